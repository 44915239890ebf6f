// nb.shardMap: runs a per-device function on the local shards of its arguments, like JAX's shard_map.
// It traces the body once per call on the local avals, builds an SPMD program from the local graph and
// runs it with runSpmdProgram. Collectives in the body become the program's collective steps.

import { fromStorage } from "../core/creation.js";
import { enableGrad, isGradEnabled } from "../core/grad-mode.js";
import { Node, type Aval } from "../core/node.js";
import { treeFlatten, treeUnflatten, type TreeDef } from "../core/pytree.js";
import { formatShape } from "../core/shape.js";
import { realize, Tensor } from "../core/tensor.js";
import { isTracing } from "../core/trace-state.js";
import { InternalError, NotSupportedError, ShardingError, TracerError, ValueError } from "../runtime/errors.js";
import { MeshTopology } from "../runtime/mesh/topology.js";
import type { Storage } from "../runtime/storage.js";
import { isInsideShardMap, markInput, varyingAxes, withBoundAxes } from "../sharding/axis-env.js";
import { runSpmdProgram } from "../sharding/run-program.js";
import { DeviceMesh } from "../sharding/mesh.js";
import { MeshExecutable } from "./mesh/executable.js";
import type { SpmdProgram } from "../sharding/program.js";
import { buildShardMapProgram, type ShardedValue } from "../sharding/shard-map-program.js";
import { assembleValue, shardValue } from "../sharding/simulate.js";
import { checkSpec, type MeshLayout, type ShardingSpec } from "../sharding/spec.js";
import { argumentSpecs, outputSpecs, type LeafSpec, type SpecTree } from "../sharding/spec-tree.js";
import { traceGraph } from "./trace.js";

export type { SpecTree } from "../sharding/spec-tree.js";

export interface ShardMapOptions {
  /** The mesh whose axes the specs and the body's collectives name: an nb.DeviceMesh or any { shape, axisNames }. */
  readonly mesh: MeshLayout;
  /** Specs of the arguments: one spec for all, or one spec tree per argument (a prefix of its pytree), like JAX's in_specs. */
  readonly inSpecs: SpecTree;
  /**
   * Specs of the outputs, a prefix of the output pytree. An output dimension split by mesh axes is the
   * concatenation of the devices' local results. Along every mesh axis that a spec does not name, the
   * devices must hold the same value, which the body ensures with psum, pmean, pmax or allGather.
   */
  readonly outSpecs: SpecTree;
}

function axisSizes(mesh: MeshLayout, axes: readonly string[]): number {
  return axes.reduce((size, axis) => size * mesh.shape[mesh.axisNames.indexOf(axis)], 1);
}

/**
 * Checks an argument's spec and returns its full-rank form. Every device must get a shard of the same
 * shape, because the body is traced once for all devices.
 */
function checkInputSpec(leaf: LeafSpec, shape: readonly number[], mesh: MeshLayout): ShardingSpec {
  const spec = checkSpec(leaf.spec, shape, mesh, `shardMap ${leaf.name}`);
  if (!spec.withoutPartial().equals(spec)) {
    throw new ShardingError(`shardMap ${leaf.name}: spec ${spec} has partial entries, which shardMap inputs cannot have; drop them and reduce inside the body`);
  }
  spec.dims.forEach((axes, dim) => {
    const parts = axisSizes(mesh, axes);
    if (shape[dim] % parts !== 0) {
      throw new ShardingError(
        `shardMap ${leaf.name}: dimension ${dim} of shape ${formatShape(shape)} has size ${shape[dim]}, which the ${parts} devices of mesh axes [${axes.join(", ")}] do not divide; ` +
          `shardMap gives every device a shard of the same shape, so pad the dimension to a multiple of ${parts} or replicate it`,
      );
    }
  });
  return spec;
}

/** Checks an output's spec against its local value and returns the global aval and full-rank spec. */
function checkOutput(leaf: LeafSpec, node: Node, mesh: MeshLayout): ShardedValue {
  const spec = checkSpec(leaf.spec, node.shape, mesh, `shardMap ${leaf.name}`);
  if (!spec.withoutPartial().equals(spec)) {
    throw new ShardingError(`shardMap ${leaf.name}: out spec ${spec} has partial entries; reduce the value with nb.psum inside the body and drop them`);
  }
  const named = new Set(spec.axes);
  for (const axis of varyingAxes(node)) {
    if (!named.has(axis)) {
      throw new ShardingError(
        `shardMap ${leaf.name}: the value varies along mesh axis "${axis}", but out spec ${spec} does not name "${axis}", so the devices along it would disagree; ` +
          `reduce it over "${axis}" with nb.psum, nb.pmean or nb.allGather, or split an output dimension by "${axis}"`,
      );
    }
  }
  const shape = node.shape.map((n, dim) => n * axisSizes(mesh, spec.dims[dim]));
  return { aval: { shape, dtype: node.dtype }, spec };
}

function rejectUnsupportedCall(): void {
  if (isInsideShardMap()) {
    throw new NotSupportedError("shardMap: a shardMap body calls nb.shardMap again, and nested shardMap is not supported; use collectives over several axes in one body instead");
  }
  if (isTracing()) {
    throw new TracerError("shardMap: the call needs concrete arguments because it runs the SPMD program eagerly; call it outside compile");
  }
}

/** The record of a differentiated call for its derivatives: the body, the mesh and the global view of every leaf. */
export interface CallRecord {
  readonly fn: (...args: never[]) => unknown;
  readonly mesh: MeshLayout;
  readonly argsTreedef: TreeDef;
  readonly inputs: readonly ShardedValue[];
  readonly outputs: readonly ShardedValue[];
}

const callRecords = new WeakMap<Node, CallRecord>();

/** Returns the call that created a shardMapCall node. */
export function callRecordOf(node: Node): CallRecord {
  const record = callRecords.get(node);
  if (record === undefined) throw new InternalError(`shardMapCall node #${node.id} has no call record`);
  return record;
}

/**
 * Returns the results as shardMapCall nodes on the argument leaves, created with their values, so that
 * autograd reaches the arguments through the call.
 */
function differentiableResults(record: CallRecord, leaves: readonly Tensor[], results: readonly Tensor[]): Tensor[] {
  return results.map((result, output) => {
    const node = Node.op("shardMapCall", { output }, leaves.map((leaf) => leaf.node), result.node.aval, true);
    node.buffer = result.node.buffer;
    callRecords.set(node, record);
    return new Tensor(node);
  });
}

/** A traced body: its local graph, the output structure and the global view of every output. */
interface TracedBody {
  readonly inputs: readonly Node[];
  readonly outputs: readonly Node[];
  readonly outTreedef: TreeDef;
  readonly outValues: readonly ShardedValue[];
}

/** Traces `fn` on one placeholder per argument leaf, with the mesh axes bound, and checks the outputs against `outSpecs`. */
function traceBody(fn: (...args: never[]) => unknown, treedef: TreeDef, inputs: readonly ShardedValue[], localAvals: readonly Aval[], options: ShardMapOptions): TracedBody {
  // Gradients inside the body are part of its definition, so they are recorded even inside nb.noGrad.
  return withBoundAxes(options.mesh, () => enableGrad(() => {
    let output: unknown;
    const graph = traceGraph((...locals: Tensor[]) => {
      locals.forEach((local, i) => markInput(local.node, inputs[i].spec.axes));
      output = fn(...(treeUnflatten(treedef, locals) as never[]));
      return output;
    }, localAvals);
    const leaves = outputSpecs(options.outSpecs, output);
    if (leaves.length !== graph.outputs.length) {
      throw new ValueError(`shardMap: outSpecs give ${leaves.length} specs for ${graph.outputs.length} output tensors; give one per output tensor`);
    }
    const outValues = graph.outputs.map((node, i) => checkOutput(leaves[i], node, options.mesh));
    return { inputs: graph.inputs, outputs: graph.outputs, outTreedef: treeFlatten(output).treedef, outValues };
  }));
}

/**
 * Runs `program` on the devices' shards of the arguments and assembles the global outputs: on the
 * workers of a DeviceMesh, or on the host simulator for a plain mesh layout.
 */
function runOnShards(program: SpmdProgram, leaves: readonly Tensor[]): Tensor[] {
  const { mesh } = program;
  realize(...leaves);
  const globals = leaves.map((leaf) => leaf.node.buffer as Storage);
  if (mesh instanceof DeviceMesh) {
    const executable = new MeshExecutable(mesh, program, "shardMap");
    try {
      return executable.run(globals).map((data, i) => fromStorage(data, program.outputs[i].aval.shape, program.outputs[i].aval.dtype));
    } finally {
      executable.dispose();
    }
  }
  const localInputs = program.devices.map((_, device) => program.inputs.map(({ aval, spec }, i) => shardValue(globals[i], aval, spec, mesh, device)));
  const localOutputs = runSpmdProgram(program, localInputs);
  return program.outputs.map(({ aval, spec }, i) => {
    const data = assembleValue(localOutputs.map((outputs) => outputs[i]), aval, spec, mesh);
    return fromStorage(data, aval.shape, aval.dtype);
  });
}

function callShardMap(fn: (...args: never[]) => unknown, options: ShardMapOptions, args: readonly unknown[]): unknown {
  const { leaves, treedef } = treeFlatten(args);
  rejectUnsupportedCall();
  const { mesh } = options;
  const leafSpecs = argumentSpecs(options.inSpecs, args);
  const inputs = leaves.map((leaf, i) => ({ aval: { shape: leaf.shape, dtype: leaf.dtype }, spec: checkInputSpec(leafSpecs[i], leaf.shape, mesh) }));
  const localAvals = inputs.map(({ aval, spec }) => ({ shape: aval.shape.map((n, dim) => n / axisSizes(mesh, spec.dims[dim])), dtype: aval.dtype }));

  const body = traceBody(fn, treedef, inputs, localAvals, options);
  const results = runOnShards(buildShardMapProgram(body, mesh, inputs, body.outValues), leaves);
  if (!isGradEnabled() || !leaves.some((leaf) => leaf.node.tracked)) return treeUnflatten(body.outTreedef, results);
  const record = { fn, mesh, argsTreedef: treedef, inputs, outputs: body.outValues };
  return treeUnflatten(body.outTreedef, differentiableResults(record, leaves, results));
}

/**
 * Maps `fn` over the shards of its arguments on `options.mesh`, like JAX's shard_map. The returned
 * function takes global tensors, splits each by its in spec, and calls `fn` once per device on that
 * device's local shards. `fn` may call nb.psum, nb.pmean, nb.pmax, nb.allGather, nb.psumScatter,
 * nb.allToAll, nb.ppermute and nb.axisIndex along the mesh axes, and nb.valueAndGrad, whose gradients
 * flow through those collectives. There each device differentiates its own loss, except that a loss
 * reduced with psum, pmean or pmax counts once for its group. The outputs are assembled from the
 * devices' results by `outSpecs`.
 *
 * Every device must get shards of the same shape, so a split dimension must be a multiple of the
 * number of devices that split it. Gradients flow through the call to its tensor arguments.
 * NOTE: tensors that `fn` reads from outside its arguments are constants of the body, so no gradient
 * reaches them; pass them as arguments. Each call traces `fn` again, which costs time for large bodies.
 */
export function shardMap<Args extends unknown[], Out>(fn: (...args: Args) => Out, options: ShardMapOptions): (...args: Args) => Out {
  if (options === undefined || options.mesh === undefined) {
    throw new ValueError("shardMap: options.mesh is missing; pass { mesh, inSpecs, outSpecs }");
  }
  // Validates the mesh shape and axis names now rather than at the first call.
  new MeshTopology(options.mesh.shape, options.mesh.axisNames);
  return (...args: Args) => callShardMap(fn as (...args: never[]) => unknown, options, args) as Out;
}
