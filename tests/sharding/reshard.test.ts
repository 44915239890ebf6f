// Reshard plans: a partial result that the target splits is settled by a reduce-scatter, the cost
// model prices it below an all-reduce, and partitioned reshards still equal the unsharded value.

import fc from "fast-check";
import { describe, expect, it } from "vitest";
import * as nb from "../../src/index.js";
import type { Aval } from "../../src/core/node.js";
import { bind } from "../../src/core/bind.js";
import type { Tensor } from "../../src/core/tensor.js";
import { planReshard, reshardCost, type ReshardStep } from "../../src/sharding/reshard.js";
import type { PartialOp } from "../../src/sharding/spec.js";
import { expectClose, meshes, randomData, randomSpec, referenceRun, Rng, type TestMesh } from "./spmd-support.js";

const mesh4 = { shape: [4], axisNames: ["x"] };
const mesh22 = { shape: [2, 2], axisNames: ["x", "y"] };
const partial = (dims: nb.DimSpec[], entries: Record<string, PartialOp>): nb.ShardingSpec => new nb.ShardingSpec(dims, entries);

/** Labels each step with its kind, axes and dimensions. */
function describeSteps(steps: readonly ReshardStep[]): string[] {
  return steps.map((step) => {
    switch (step.kind) {
      case "allReduce":
        return `allReduce(${step.axes.join(",")} ${step.op})`;
      case "reduceScatter":
        return `reduceScatter(${step.axis} ${step.op}, dim ${step.dim})`;
      case "allGather":
      case "split":
        return `${step.kind}(${step.axis}, dim ${step.dim})`;
      case "allToAll":
        return `allToAll(${step.axis}, ${step.gatherDim} to ${step.splitDim})`;
      default:
        return step satisfies never;
    }
  });
}

describe("planReshard with partial results", () => {
  it("scatters a sum onto the split dimension", () => {
    expect(describeSteps(planReshard(partial([null], { x: "sum" }), nb.P("x"), mesh4))).toEqual(["reduceScatter(x sum, dim 0)"]);
  });

  it("keeps the op of a max partial", () => {
    expect(describeSteps(planReshard(partial([null, null], { x: "max" }), nb.P(null, "x"), mesh4))).toEqual(["reduceScatter(x max, dim 1)"]);
  });

  it("all-reduces when the target replicates", () => {
    expect(describeSteps(planReshard(partial([null], { x: "sum" }), nb.P(null), mesh4))).toEqual(["allReduce(x sum)"]);
  });

  it("scatters before gathering another dimension", () => {
    const steps = planReshard(partial(["y", null], { x: "sum" }), nb.P(null, "x"), mesh22);
    expect(describeSteps(steps)).toEqual(["reduceScatter(x sum, dim 1)", "allGather(y, dim 0)"]);
  });

  it("splits a free outer axis before scattering", () => {
    const steps = planReshard(partial([null, null], { x: "sum" }), nb.P(["y", "x"], null), mesh22);
    expect(describeSteps(steps)).toEqual(["split(y, dim 0)", "reduceScatter(x sum, dim 0)"]);
  });

  it("scatters two partial axes", () => {
    const steps = planReshard(partial([null, null], { x: "sum", y: "sum" }), nb.P("y", "x"), mesh22);
    expect(describeSteps(steps)).toEqual(["reduceScatter(y sum, dim 0)", "reduceScatter(x sum, dim 1)"]);
  });

  it("scatters after an all-to-all", () => {
    const steps = planReshard(partial([null, "y"], { x: "sum" }), nb.P("y", "x"), mesh22);
    expect(describeSteps(steps)).toEqual(["allToAll(y, 1 to 0)", "reduceScatter(x sum, dim 1)"]);
  });

  it("all-reduces first when a gather would grow the input", () => {
    const mesh44 = { shape: [4, 4], axisNames: ["a", "b"] };
    const steps = planReshard(partial(["b"], { a: "sum" }), nb.P("a"), mesh44);
    expect(describeSteps(steps)).toEqual(["allReduce(a sum)", "allGather(b, dim 0)", "split(a, dim 0)"]);
  });

  it("scatters after a gather on a mesh of two", () => {
    const steps = planReshard(partial(["y"], { x: "sum" }), nb.P("x"), mesh22);
    expect(describeSteps(steps)).toEqual(["allGather(y, dim 0)", "reduceScatter(x sum, dim 0)"]);
  });
});

describe("reshard cost", () => {
  it("prices a reduce-scatter at half an all-reduce", () => {
    const from = partial([null], { x: "sum" });
    const scatter = reshardCost(from, nb.P("x"), 1000, 4, mesh4);
    const reduce = reshardCost(from, nb.P(null), 1000, 4, mesh4);
    expect(scatter).toBe(3000);
    expect(reduce).toBe(6000);
  });

  it("never exceeds all-reduce then reshard", () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 2 ** 31 - 1 }), fc.integer({ min: 0, max: meshes.length - 1 }), (seed, meshIndex) => {
        const rng = new Rng(seed);
        const mesh = meshes[meshIndex];
        const rank = rng.int(1, 4);
        const from = randomSpec(rng, rank, mesh, ["sum", "max", "min"]);
        const to = randomSpec(rng, rank, mesh, []);
        const settled = from.withoutPartial();
        const direct = reshardCost(from, to, 840, 4, mesh);
        const twoStage = reshardCost(from, settled, 840, 4, mesh) + reshardCost(settled, to, 840, 4, mesh);
        expect(direct, `${from} to ${to} on mesh [${mesh.shape.join(", ")}]`).toBeLessThanOrEqual(twoStage + 1e-9);
      }),
      { numRuns: 300, seed: 6 },
    );
  });
});

/**
 * True when `axis` can be scattered before any gather: the target split of its dimension extends the
 * current split with axes that are free in `from`.
 */
function scattersDirectly(from: nb.ShardingSpec, to: nb.ShardingSpec, axis: string): boolean {
  const d = to.dims.findIndex((dims) => dims.includes(axis));
  if (d < 0) return false;
  const before = to.dims[d].slice(0, to.dims[d].indexOf(axis));
  const current = from.dims[d];
  if (current.length > before.length || current.some((a, i) => before[i] !== a)) return false;
  return before.slice(current.length).every((a) => !from.axes.includes(a));
}

describe("partitioned reshards", () => {
  const f32 = (shape: readonly number[]): Aval => ({ shape, dtype: "float32" });

  it("match the unsharded value", () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 2 ** 31 - 1 }), fc.integer({ min: 0, max: meshes.length - 1 }), (seed, meshIndex) => {
        const rng = new Rng(seed);
        const mesh: TestMesh = meshes[meshIndex];
        const shape = Array.from({ length: rng.int(1, 4) }, () => (rng.next() < 0.1 ? 0 : rng.int(1, 9)));
        const from = randomSpec(rng, shape.length, mesh, ["sum", "max", "min"]);
        const to = randomSpec(rng, shape.length, mesh, []);
        const graph = nb.traceGraph((a: Tensor) => bind("identity", [a], {}), [f32(shape)]);
        const program = nb.partition(graph, [{ spec: from, mesh }], { outputSpecs: [to] });
        const global = randomData(rng, { aval: f32(shape), domain: { kind: "float" } });
        const label = `[${shape.join(", ")}] ${from} to ${to} on mesh [${mesh.shape.join(", ")}] (seed ${seed})`;
        expectClose(nb.runSpmd(program, [global])[0], global, label);

        const reduced = program.devices[0].steps.flatMap((step) => (step.kind === "allReduce" ? step.axes : []));
        for (const axis of Object.keys(from.partial)) {
          if (scattersDirectly(from, to, axis)) expect(reduced, `${label}: all-reduce over ${axis}`).not.toContain(axis);
        }
      }),
      { numRuns: 300, seed: 7 },
    );
  });

  it("scatter sharded gradients of a data-parallel step", () => {
    const mesh = { shape: [4], axisNames: ["data"] };
    const avals = [f32([10, 5]), f32([10, 3]), f32([5, 6]), f32([6, 3])];
    const graph = nb.traceGraph((x: Tensor, y: Tensor, w1: Tensor, w2: Tensor) => {
      const loss = (p1: Tensor, p2: Tensor): Tensor => {
        const error = nb.sub(nb.matmul(nb.tanh(nb.matmul(x, p1)), p2), y);
        return nb.mean(nb.mul(error, error));
      };
      return nb.valueAndGrad(loss, { argnums: [0, 1] })(w1, w2);
    }, avals);
    const specs = [nb.P("data"), nb.P("data"), nb.P(), nb.P()];
    // As in ZeRO, each device keeps one shard of every gradient, so no device stores the whole sum.
    const outputSpecs = [nb.P(), nb.P("data"), nb.P("data")];
    const program = nb.partition(graph, specs.map((spec) => ({ spec, mesh })), { outputSpecs });
    const counts = nb.countCollectives(program);
    expect(counts.reduceScatter).toBe(2);
    expect(counts.allReduce).toBe(1);
    expect(counts.allGather).toBe(0);

    const rng = new Rng(5);
    const globals = avals.map((aval) => randomData(rng, { aval, domain: { kind: "float" } }));
    const actual = nb.runSpmd(program, globals);
    referenceRun(graph, globals).forEach((expected, i) => expectClose(actual[i], expected, `output ${i}`));
  });

  it("scatter a row-parallel matmul into a sequence split", () => {
    const mesh = { shape: [3], axisNames: ["model"] };
    const graph = nb.traceGraph((h: Tensor, w: Tensor) => nb.matmul(h, w), [f32([7, 6]), f32([6, 4])]);
    const program = nb.partition(graph, [{ spec: nb.P(null, "model"), mesh }, { spec: nb.P("model", null), mesh }], { outputSpecs: [nb.P("model", null)] });
    const counts = nb.countCollectives(program);
    expect(counts.reduceScatter).toBe(1);
    expect(counts.allReduce).toBe(0);
    expect(program.devices[2].steps.find((s) => s.kind === "reduceScatter")?.kind).toBe("reduceScatter");

    const rng = new Rng(9);
    const globals = graph.inputs.map((node) => randomData(rng, { aval: node.aval, domain: { kind: "float" } }));
    expectClose(nb.runSpmd(program, globals)[0], referenceRun(graph, globals)[0], "matmul");
  });
});
