// Sharding constraints: partition reshards a constrained node's value to its spec, consumers start from
// that layout, results still equal the unsharded graph, and invalid constraints raise ShardingError.

import fc from "fast-check";
import { describe, expect, it } from "vitest";
import * as nb from "../../src/index.js";
import type { Aval, Node } from "../../src/core/node.js";
import { scheduleGraph } from "../../src/core/schedule.js";
import type { Tensor } from "../../src/core/tensor.js";
import { checkAgainstReference, describeCase, meshes, randomData, randomSpec, Rng, type TestMesh } from "./spmd-support.js";

const f32 = (...shape: number[]): Aval => ({ shape, dtype: "float32" });
const mesh3 = { shape: [3], axisNames: ["x"] };

/** Traces tanh(a @ b) and returns the graph with the matmul node, the one the tests constrain. */
function traceMatmulTanh(a: Aval, b: Aval): { graph: nb.Graph; product: Node } {
  let product: Node | undefined;
  const graph = nb.traceGraph((x: Tensor, w: Tensor) => {
    const h = nb.matmul(x, w);
    product = h.node;
    return nb.tanh(h);
  }, [a, b]);
  return { graph, product: product as Node };
}

function globalsFor(graph: nb.Graph, seed: number): Float32Array[] {
  const rng = new Rng(seed);
  return graph.inputs.map((node) => randomData(rng, { aval: node.aval, domain: { kind: "float" } }) as Float32Array);
}

function computeStep(program: nb.SpmdProgram, device: number, prim: string): Extract<nb.LocalStep, { kind: "compute" }> {
  const step = program.devices[device].steps.find((s) => s.kind === "compute" && s.prim === prim);
  if (step?.kind !== "compute") throw new Error(`no ${prim} step on device ${device}`);
  return step;
}

describe("sharding constraints", () => {
  it("move a row split to columns", () => {
    const { graph, product } = traceMatmulTanh(f32(6, 4), f32(4, 5));
    const specs = [nb.P("x", null), nb.P(null, null)];
    const globals = globalsFor(graph, 1);

    const free = checkAgainstReference(graph, specs, mesh3, globals, "unconstrained");
    expect(nb.countCollectives(free).allToAll).toBe(0);
    expect(computeStep(free, 0, "tanh").inAvals[0].shape).toEqual([2, 5]);

    const constraints = new Map([[product, nb.P(null, "x")]]);
    const constrained = checkAgainstReference(graph, specs, mesh3, globals, "constrained", { constraints });
    expect(nb.countCollectives(constrained).allToAll).toBe(1);
    expect(computeStep(constrained, 0, "tanh").inAvals[0].shape).toEqual([6, 2]);
    expect(computeStep(constrained, 2, "tanh").inAvals[0].shape).toEqual([6, 1]);
    expect(String(constrained.outputs[0].spec)).toBe('P(null, "x")');
  });

  it("scatter a partial sum into rows", () => {
    const { graph, product } = traceMatmulTanh(f32(5, 6), f32(6, 4));
    const specs = [nb.P(null, "x"), nb.P("x", null)];
    const globals = globalsFor(graph, 2);

    const free = checkAgainstReference(graph, specs, mesh3, globals, "unconstrained");
    expect(nb.countCollectives(free).allReduce).toBe(1);
    expect(nb.countCollectives(free).reduceScatter).toBe(0);

    const constrained = checkAgainstReference(graph, specs, mesh3, globals, "constrained", { constraints: new Map([[product, nb.P("x")]]) });
    expect(nb.countCollectives(constrained).allReduce).toBe(0);
    expect(nb.countCollectives(constrained).reduceScatter).toBe(1);
    expect(computeStep(constrained, 1, "tanh").inAvals[0].shape).toEqual([2, 4]);
  });

  it("replicate a sharded input", () => {
    const { graph } = traceMatmulTanh(f32(6, 4), f32(4, 5));
    const constraints = new Map([[graph.inputs[0], nb.P()]]);
    const program = checkAgainstReference(graph, [nb.P("x"), nb.P()], mesh3, globalsFor(graph, 3), "input", { constraints });
    expect(nb.countCollectives(program).allGather).toBe(1);
    expect(computeStep(program, 1, "matmul").inAvals[0].shape).toEqual([6, 4]);
  });

  it("ignore nodes outside the graph", () => {
    const { graph } = traceMatmulTanh(f32(6, 4), f32(4, 5));
    const other = traceMatmulTanh(f32(6, 4), f32(4, 5)).product;
    const program = checkAgainstReference(graph, [nb.P("x"), nb.P()], mesh3, globalsFor(graph, 4), "unrelated", { constraints: new Map([[other, nb.P(null, "x")]]) });
    expect(nb.countCollectives(program).allToAll).toBe(0);
  });
});

describe("invalid sharding constraints", () => {
  const { graph, product } = traceMatmulTanh(f32(6, 4), f32(4, 5));
  const inputs = [nb.P("x"), nb.P()].map((spec) => ({ spec, mesh: mesh3 }));
  const partitionWith = (spec: nb.ShardingSpec) => (): unknown => nb.partition(graph, inputs, { constraints: new Map([[product, spec]]) });
  const where = `sharding constraint on matmul#${product.id} of shape \\[6, 5\\]`;

  it("reject an unknown mesh axis", () => {
    expect(partitionWith(nb.P("batch"))).toThrow(nb.ShardingError);
    expect(partitionWith(nb.P("batch"))).toThrow(new RegExp(`${where}: spec P\\("batch"\\) names mesh axis "batch", but the mesh has axes \\[x\\]`));
  });

  it("reject a spec longer than the rank", () => {
    expect(partitionWith(nb.P(null, null, "x"))).toThrow(nb.ShardingError);
    expect(partitionWith(nb.P(null, null, "x"))).toThrow(new RegExp(`${where}: spec P\\(null, null, "x"\\) has 3 entries`));
  });

  it("reject a partial spec", () => {
    const partial = new nb.ShardingSpec([null, null], { x: "sum" });
    expect(partitionWith(partial)).toThrow(nb.ShardingError);
    expect(partitionWith(partial)).toThrow(new RegExp(`${where}: spec P\\(null, null; partial x=sum\\) is partial`));
  });
});

/** loss = mean((tanh(x W1) W2 - y)^2) and its gradients, traced. */
function traceTrainingStep(rng: Rng): nb.Graph {
  const [batch, features, hidden, outputs] = [rng.int(1, 9), rng.int(1, 6), rng.int(1, 7), rng.int(1, 4)];
  return nb.traceGraph((x: Tensor, y: Tensor, w1: Tensor, w2: Tensor) => {
    const loss = (p1: Tensor, p2: Tensor): Tensor => {
      const error = nb.sub(nb.matmul(nb.tanh(nb.matmul(x, p1)), p2), y);
      return nb.mean(nb.mul(error, error));
    };
    return nb.valueAndGrad(loss, { argnums: [0, 1] })(w1, w2);
  }, [f32(batch, features), f32(batch, outputs), f32(features, hidden), f32(hidden, outputs)]);
}

describe("random sharding constraints", () => {
  it("keep training gradients equal", () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 2 ** 31 - 1 }), fc.integer({ min: 0, max: meshes.length - 1 }), (seed, meshIndex) => {
        const rng = new Rng(seed);
        const mesh: TestMesh = meshes[meshIndex];
        const graph = traceTrainingStep(rng);
        const specs = graph.inputs.map((node) => randomSpec(rng, node.shape.length, mesh, ["sum"]));
        const { order } = scheduleGraph(graph.outputs, (node) => node.kind !== "op");
        const constraints = new Map<Node, nb.ShardingSpec>();
        for (const node of order) if (rng.next() < 0.3) constraints.set(node, randomSpec(rng, node.shape.length, mesh, []));
        const globals = graph.inputs.map((node) => randomData(rng, { aval: node.aval, domain: { kind: "float" } }));
        const label = `${describeCase(mesh, specs, graph.inputs.map((n) => n.aval))}, ${constraints.size} constraints (seed ${seed})`;
        const program = checkAgainstReference(graph, specs, mesh, globals, label, { constraints });

        graph.outputs.forEach((node, i) => {
          const constraint = constraints.get(node);
          if (constraint !== undefined) expect(String(program.outputs[i].spec), `${label}: output ${i}`).toBe(String(constraint));
        });
      }),
      { numRuns: 80, seed: 10 },
    );
  });
});
