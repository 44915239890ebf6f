// A compiled function on a mesh: traced once, partitioned by the leaves' specs, lowered per device,
// and replayed by cutting the arguments into shards and joining the results.

import { Node, type Aval } from "../../core/node.js";
import { treeUnflatten, type TreeDef } from "../../core/pytree.js";
import { realize, Tensor } from "../../core/tensor.js";
import { debugLog } from "../../runtime/debug.js";
import { TracerError } from "../../runtime/errors.js";
import { allocate, type Storage } from "../../runtime/storage.js";
import { checkConstraint, NamedSharding } from "../../sharding/api.js";
import { mergeAllReduces } from "../../sharding/merge.js";
import { formatSpmdProgram } from "../../sharding/print.js";
import type { DeviceMesh } from "../../sharding/mesh.js";
import type { ShardingSpec } from "../../sharding/spec.js";
import { scheduleGraph } from "../../core/schedule.js";
import { partition } from "../../sharding/partition.js";
import { countCollectives, type SpmdProgram } from "../../sharding/program.js";
import { traceTree } from "../trace.js";
import { MeshExecutable } from "./executable.js";
import { outputSpecs, type MeshCompileOptions, type MeshPlacement } from "./placement.js";

export class MeshProgram {
  readonly #executable: MeshExecutable;
  readonly #outTreedef: TreeDef;
  readonly #shardings: readonly NamedSharding[];

  constructor(fn: (...args: never[]) => unknown, treedef: TreeDef, avals: readonly Aval[], placement: MeshPlacement, options: MeshCompileOptions, name: string) {
    const graph = traceTree(fn, treedef, avals);
    const known = new Set(graph.inputs);
    for (const node of graph.outputs) {
      if (node.kind === "placeholder" && !known.has(node)) {
        throw new TracerError(`compile: ${name} returned a value traced by another compiled function; return only values computed from this call's arguments`);
      }
    }
    const { mesh, specs } = placement;
    const inputs = specs.map((spec, i) => ({ spec, mesh, name: `argument leaf ${i}` }));
    const constraints = constraintsOf(graph.outputs, mesh);
    const partitioned = partition(graph, inputs, { outputSpecs: outputSpecs(graph.out, options.outShardings, name), bucketOutputReductions: true, constraints });
    const program = mergeAllReduces(partitioned);
    debugLog(2, () => `compile ${name}: the program each device runs, after merging all-reduces\n${formatSpmdProgram(program)}`);
    debugLog(1, () => `compile ${name}: partitioned over mesh [${mesh.shape.join(", ")}], collectives ${JSON.stringify(countCollectives(program))}`);
    this.#executable = new MeshExecutable(mesh, program, name);
    this.#outTreedef = graph.outTreedef;
    this.#shardings = program.outputs.map(({ spec }) => new NamedSharding(mesh, spec));
  }

  /** Runs on the argument leaves (the random key last) and returns the output pytree of sharded tensors. */
  run(leaves: readonly (Tensor | number)[], avals: readonly Aval[]): unknown {
    realize(...leaves.filter((l): l is Tensor => l instanceof Tensor));
    const globals = leaves.map((leaf, i) => leafStorage(leaf, avals[i]));
    const outputs = this.#executable.run(globals).map((buffer, i) => {
      const tensor = new Tensor(Node.leaf(this.#executable.program.outputs[i].aval, buffer));
      tensor.sharding = this.#shardings[i];
      return tensor;
    });
    return treeUnflatten(this.#outTreedef, outputs);
  }

  /** The partitioned program every device runs a part of. */
  get spmd(): SpmdProgram {
    return this.#executable.program;
  }

  dispose(): void {
    this.#executable.dispose();
  }
}

/** Collects the sharding constraints recorded on the nodes behind `outputs`, checked against `mesh`. */
function constraintsOf(outputs: readonly Node[], mesh: DeviceMesh): Map<Node, ShardingSpec> {
  const constraints = new Map<Node, ShardingSpec>();
  const { order, boundary } = scheduleGraph(outputs, (node) => node.kind !== "op" || node.realized);
  for (const node of [...boundary, ...order]) {
    const spec = checkConstraint(node, mesh);
    if (spec !== undefined) constraints.set(node, spec);
  }
  return constraints;
}

function leafStorage(leaf: Tensor | number, aval: Aval): Storage {
  if (leaf instanceof Tensor) return leaf.node.buffer as Storage;
  const data = allocate(aval.dtype, 1);
  data[0] = leaf;
  return data;
}
