// Partitioned training graphs: gradients, data parallelism, Megatron-style tensor parallelism, errors.

import fc from "fast-check";
import { describe, expect, it } from "vitest";
import * as nb from "../../src/index.js";
import type { Tensor } from "../../src/core/tensor.js";
import type { Aval } from "../../src/core/node.js";
import { checkAgainstReference, describeCase, meshes, randomData, randomSpec, referenceRun, Rng, type InputCase } from "./spmd-support.js";

const f32 = (...shape: number[]): Aval => ({ shape, dtype: "float32" });

/** loss = mean((gelu(x W1 + b1) W2 - y)^2), the two-layer MLP every test here trains. */
function mlpLoss(x: Tensor, y: Tensor, w1: Tensor, b1: Tensor, w2: Tensor): Tensor {
  const hidden = nb.gelu(nb.add(nb.matmul(x, w1), b1));
  const error = nb.sub(nb.matmul(hidden, w2), y);
  return nb.mean(nb.mul(error, error));
}

/** Traces the loss and the gradients of the three parameters. */
function traceTrainingStep(batch: number, features: number, hiddenSize: number, outputs: number): nb.Graph {
  const avals = [f32(batch, features), f32(batch, outputs), f32(features, hiddenSize), f32(hiddenSize), f32(hiddenSize, outputs)];
  return nb.traceGraph((x: Tensor, y: Tensor, w1: Tensor, b1: Tensor, w2: Tensor) => {
    const [loss, grads] = nb.valueAndGrad((p1: Tensor, q1: Tensor, p2: Tensor) => mlpLoss(x, y, p1, q1, p2), { argnums: [0, 1, 2] })(w1, b1, w2);
    return [loss, grads];
  }, avals);
}

function inputsOf(graph: nb.Graph): InputCase[] {
  return graph.inputs.map((node) => ({ aval: node.aval, domain: { kind: "float" } }));
}

describe("partitioned gradients", () => {
  it("match unsharded gradients", () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 2 ** 31 - 1 }), fc.integer({ min: 0, max: meshes.length - 1 }), (seed, meshIndex) => {
        const rng = new Rng(seed);
        const mesh = meshes[meshIndex];
        const graph = traceTrainingStep(rng.int(1, 9), rng.int(1, 6), rng.int(1, 7), rng.int(1, 4));
        const inputs = inputsOf(graph);
        const specs = inputs.map((input) => randomSpec(rng, input.aval.shape.length, mesh, ["sum", "max", "min"]));
        const globals = inputs.map((input) => randomData(rng, input));
        checkAgainstReference(graph, specs, mesh, globals, `${describeCase(mesh, specs, inputs.map((i) => i.aval))} (seed ${seed})`);
      }),
      { numRuns: 60, seed: 1 },
    );
  });
});

const dataMesh = { shape: [4], axisNames: ["data"] };

describe("data parallelism", () => {
  const graph = traceTrainingStep(10, 5, 6, 3);
  const specs = [nb.P("data"), nb.P("data"), nb.P(), nb.P(), nb.P()];
  const rng = new Rng(7);
  const globals = inputsOf(graph).map((input) => randomData(rng, input));

  it("all-reduces once per gradient and loss", () => {
    const program = checkAgainstReference(graph, specs, dataMesh, globals, "data parallel");
    const counts = nb.countCollectives(program);
    expect(counts.allReduce).toBe(4);
    expect(counts.allGather).toBe(0);
    expect(counts.allToAll).toBe(0);
  });

  it("buckets the step into one all-reduce", () => {
    const program = nb.partition(graph, specs.map((spec) => ({ spec, mesh: dataMesh })), { bucketOutputReductions: true });
    const counts = nb.countCollectives(program);
    expect(counts.allReduce).toBe(1);
    expect(counts.allGather).toBe(0);
    const actual = nb.runSpmd(program, globals);
    const expected = referenceRun(graph, globals);
    actual.forEach((out, i) => expect(Array.from(out).map((v, j) => Math.abs(v - expected[i][j]) < 1e-4)).not.toContain(false));
  });

  it("keeps the gradients replicated", () => {
    const program = nb.partition(graph, specs.map((spec) => ({ spec, mesh: dataMesh })));
    for (const output of program.outputs) expect(output.spec.isReplicated).toBe(true);
  });
});

describe("Megatron-style MLP", () => {
  const [batch, features, hiddenSize] = [5, 4, 6];
  const forward = nb.traceGraph((x: Tensor, w1: Tensor, b1: Tensor, w2: Tensor, b2: Tensor) => {
    const hidden = nb.gelu(nb.add(nb.matmul(x, w1), b1));
    return nb.add(nb.matmul(hidden, w2), b2);
  }, [f32(batch, features), f32(features, hiddenSize), f32(hiddenSize), f32(hiddenSize, features), f32(features)]);
  const rng = new Rng(11);
  const globals = forward.inputs.map((node) => randomData(rng, { aval: node.aval, domain: { kind: "float" } }));

  for (const mesh of [{ shape: [4], axisNames: ["model"] }, { shape: [3], axisNames: ["model"] }, { shape: [2, 2], axisNames: ["data", "model"] }]) {
    it(`all-reduces once on mesh [${mesh.shape.join(", ")}]`, () => {
      const batchAxis = mesh.axisNames.includes("data") ? "data" : null;
      const specs = [nb.P(batchAxis, null), nb.P(null, "model"), nb.P("model"), nb.P("model", null), nb.P()];
      const program = checkAgainstReference(forward, specs, mesh, globals, "megatron");
      const counts = nb.countCollectives(program);
      expect(counts.allReduce).toBe(1);
      expect(counts.allGather).toBe(0);
      expect(counts.allToAll).toBe(0);
    });
  }
});

describe("reshards", () => {
  const mesh = { shape: [3], axisNames: ["x"] };
  const rng = new Rng(3);

  it("move a split between dimensions with an all-to-all", () => {
    const graph = nb.traceGraph((a: Tensor) => nb.neg(a), [f32(5, 7)]);
    const globals = graph.inputs.map((node) => randomData(rng, { aval: node.aval, domain: { kind: "float" } }));
    const program = nb.partition(graph, [{ spec: nb.P("x", null), mesh }], { outputSpecs: [nb.P(null, "x")] });
    expect(nb.countCollectives(program).allToAll).toBe(1);
    expect(nb.countCollectives(program).allGather).toBe(0);
    const actual = nb.runSpmd(program, globals);
    const expected = referenceRun(graph, globals);
    expect(Array.from(actual[0]).map((v, i) => Math.abs(v - expected[0][i]) < 1e-5)).not.toContain(false);
  });

  it("split a replicated operand locally", () => {
    const graph = nb.traceGraph((a: Tensor, b: Tensor) => nb.mul(a, b), [f32(4, 2), f32(4, 2)]);
    const program = nb.partition(graph, [{ spec: nb.P("x"), mesh }, { spec: nb.P(), mesh }]);
    expect(program.devices[0].steps.filter((s) => s.kind === "split")).toHaveLength(1);
    expect(nb.countCollectives(program)).toEqual({ allReduce: 0, allGather: 0, allToAll: 0, reduceScatter: 0, permute: 0 });
  });

  it("fill empty max shards with -Infinity", () => {
    const graph = nb.traceGraph((a: Tensor) => nb.max(nb.sub(a, 10), 0), [f32(2, 3)]);
    const program = nb.partition(graph, [{ spec: nb.P("x"), mesh }]);
    const fills = program.devices[2].steps.filter((s) => s.kind === "fill");
    expect(fills).toHaveLength(1);
    const [fill] = fills;
    expect(fill.kind).toBe("fill");
    if (fill.kind === "fill") expect(fill.value).toBe(-Infinity);
  });

  it("settle a partial before a nonlinear op", () => {
    const graph = nb.traceGraph((a: Tensor) => nb.exp(nb.sum(a, 0)), [f32(6, 2)]);
    const program = nb.partition(graph, [{ spec: nb.P("x"), mesh }]);
    const kinds = program.devices[0].steps.map((s) => (s.kind === "compute" ? s.prim : s.kind));
    expect(kinds.indexOf("allReduce")).toBeGreaterThan(kinds.indexOf("reduceSum"));
    expect(kinds.indexOf("allReduce")).toBeLessThan(kinds.indexOf("exp"));
  });
});

describe("partial results", () => {
  const mesh = { shape: [2], axisNames: ["x"] };
  const sumPartial = new nb.ShardingSpec([null], { x: "sum" });

  /** Returns the primitives and collectives of device 0's program, in order. */
  function stepKinds(fn: (a: Tensor, b: Tensor) => Tensor, specs: readonly nb.ShardingSpec[]): string[] {
    const graph = nb.traceGraph(fn, [f32(3), f32(3)]);
    const program = nb.partition(graph, specs.map((spec) => ({ spec, mesh })));
    const kinds: string[] = [];
    for (const step of program.devices[0].steps) {
      if (step.kind === "compute") kinds.push(step.prim);
      if (step.kind === "allReduce") kinds.push("allReduce");
    }
    return kinds;
  }

  it("stay pending through add of two partials", () => {
    expect(stepKinds((a, b) => nb.add(a, b), [sumPartial, sumPartial])).toEqual(["add", "allReduce"]);
  });

  it("settle before adding a replicated operand", () => {
    expect(stepKinds((a, b) => nb.add(a, b), [sumPartial, nb.P()])).toEqual(["allReduce", "add"]);
  });

  it("stay pending through mul by a replicated operand", () => {
    expect(stepKinds((a, b) => nb.mul(a, b), [sumPartial, nb.P()])).toEqual(["mul", "allReduce"]);
  });

  it("settle before a comparison", () => {
    expect(stepKinds((a, b) => nb.cast(nb.less(a, b), "float32"), [sumPartial, nb.P()])).toEqual(["allReduce", "less", "cast"]);
  });

  it("turn max into min through neg", () => {
    const graph = nb.traceGraph((a: Tensor) => nb.neg(a), [f32(3)]);
    const program = nb.partition(graph, [{ spec: new nb.ShardingSpec([null], { x: "max" }), mesh }]);
    const reduce = program.devices[0].steps.find((s) => s.kind === "allReduce");
    expect(reduce?.kind === "allReduce" ? reduce.op : undefined).toBe("min");
  });
});

describe("partition input errors", () => {
  const mesh = { shape: [2, 2], axisNames: ["data", "model"] };
  const graph = nb.traceGraph((a: Tensor, b: Tensor) => nb.add(a, b), [f32(4, 6), f32(4, 6)]);

  it("rejects an axis used twice", () => {
    expect(() => nb.partition(graph, [{ spec: nb.P("data", "data"), mesh }, { spec: nb.P(), mesh }])).toThrow(nb.ShardingError);
  });

  it("rejects a spec longer than the rank", () => {
    const call = (): unknown => nb.partition(graph, [{ spec: nb.P("data", null, null), mesh, name: "weights" }, { spec: nb.P(), mesh }]);
    expect(call).toThrow(nb.ShardingError);
    expect(call).toThrow(/weights: spec P\("data", null, null\) has 3 entries but the tensor has rank 2/);
  });

  it("rejects an unknown axis", () => {
    const call = (): unknown => nb.partition(graph, [{ spec: nb.P("batch"), mesh }, { spec: nb.P(), mesh }]);
    expect(call).toThrow(nb.ShardingError);
    expect(call).toThrow(/input 0: spec P\("batch"\) names mesh axis "batch"/);
  });

  it("rejects operands on different meshes", () => {
    const other = { shape: [4], axisNames: ["data"] };
    const call = (): unknown => nb.partition(graph, [{ spec: nb.P("data"), mesh, name: "a" }, { spec: nb.P(), mesh: other, name: "b" }]);
    expect(call).toThrow(nb.ShardingError);
    expect(call).toThrow(/b is on mesh \[4\] with axes \[data\] but a is on mesh \[2, 2\]/);
  });

  it("rejects a partial output spec", () => {
    const call = (): unknown => nb.partition(graph, [{ spec: nb.P(), mesh }, { spec: nb.P(), mesh }], { outputSpecs: [new nb.ShardingSpec([null, null], { data: "sum" })] });
    expect(call).toThrow(nb.ShardingError);
  });
});
