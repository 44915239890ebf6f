// The all-reduce merge pass: one all-reduce per (wave, op, axes, dtype), a valid order, and results
// that equal the unmerged program bit for bit and the unsharded graph within float32 tolerance.

import fc from "fast-check";
import { describe, expect, it } from "vitest";
import * as nb from "../../src/index.js";
import type { Aval } from "../../src/core/node.js";
import type { Tensor } from "../../src/core/tensor.js";
import type { Storage } from "../../src/runtime/storage.js";
import { checkSpmdProgram } from "../../src/sharding/check.js";
import { mergeAllReduces } from "../../src/sharding/merge.js";
import { stepInputs, stepOutputs, type LocalStep } from "../../src/sharding/program.js";
import { buildRecipe, randomRecipe } from "./random-graphs.js";
import { expectClose, meshes, randomData, randomSpec, referenceRun, Rng, type TestMesh } from "./spmd-support.js";

const f32 = (...shape: number[]): Aval => ({ shape, dtype: "float32" });

/** Wave of each all-reduce, counted independently of the pass: all-reduces on its longest chain of all-reduce ancestors. */
function allReduceWaves(steps: readonly LocalStep[]): { step: Extract<LocalStep, { kind: "allReduce" }>; wave: number }[] {
  const waveOfSlot = new Map<number, number>();
  const result: { step: Extract<LocalStep, { kind: "allReduce" }>; wave: number }[] = [];
  for (const step of steps) {
    const wave = Math.max(0, ...stepInputs(step).map((slot) => waveOfSlot.get(slot) ?? 0));
    if (step.kind === "allReduce") result.push({ step, wave });
    const after = step.kind === "allReduce" ? wave + 1 : wave;
    for (const slot of stepOutputs(step)) waveOfSlot.set(slot, after);
  }
  return result;
}

/** Waves of device 0's all-reduces, each the maximum over devices, since an empty shard's fill reads nothing. */
function programWaves(program: nb.SpmdProgram): { step: Extract<LocalStep, { kind: "allReduce" }>; wave: number }[] {
  const perDevice = program.devices.map((local) => allReduceWaves(local.steps));
  return perDevice[0].map(({ step }, i) => ({ step, wave: Math.max(...perDevice.map((waves) => waves[i].wave)) }));
}

function bucketKeys(program: nb.SpmdProgram): string[] {
  return programWaves(program).map(({ step, wave }) => `${wave} ${step.op} [${step.axes.join(",")}] ${[...new Set(step.outs.map((o) => o.dtype))].join(",")}`);
}

function reducedBuffers(program: nb.SpmdProgram): number {
  return program.devices[0].steps.reduce((n, step) => n + (step.kind === "allReduce" ? step.inputs.length : 0), 0);
}

function expectIdentical(actual: readonly Storage[], expected: readonly Storage[], label: string): void {
  expect(actual.length, `${label}: outputs`).toBe(expected.length);
  actual.forEach((out, i) => {
    const same = Array.from(out).every((v, j) => Object.is(v, expected[i][j]));
    expect(same, `${label}: output ${i} differs from the unmerged program`).toBe(true);
  });
}

/** Checks the merged program against the original: valid, one bucket per key, same buffers, same results. */
function checkMerge(graph: nb.Graph, original: nb.SpmdProgram, globals: readonly Storage[], label: string): nb.SpmdProgram {
  const merged = mergeAllReduces(original);
  checkSpmdProgram(merged);
  const keys = bucketKeys(merged);
  expect(new Set(keys).size, `${label}: buckets ${keys.join("; ")}`).toBe(keys.length);
  expect(reducedBuffers(merged), `${label}: all-reduced buffers`).toBe(reducedBuffers(original));
  const actual = nb.runSpmd(merged, globals);
  expectIdentical(actual, nb.runSpmd(original, globals), label);
  referenceRun(graph, globals).forEach((expected, i) => expectClose(actual[i], expected, `${label}, output ${i}`));
  return merged;
}

const parameterNames = ["w1", "b1", "w2"] as const;

/** A data-parallel training step with the AdamW update inside the traced function. */
function traceAdamwStep(batch: number, features: number, hidden: number, outputs: number): nb.Graph {
  const shapes = { w1: [features, hidden], b1: [hidden], w2: [hidden, outputs] };
  const parameterAvals = parameterNames.map((name) => f32(...shapes[name]));
  const avals = [f32(batch, features), f32(batch, outputs), ...parameterAvals, ...parameterAvals, ...parameterAvals, { shape: [], dtype: "float64" } as Aval];
  return nb.traceGraph((x: Tensor, y: Tensor, ...rest: Tensor[]) => {
    const record = (offset: number): Record<string, Tensor> => Object.fromEntries(parameterNames.map((name, i) => [name, rest[offset + i]]));
    const params = record(0);
    const state = { step: rest[9], m: record(3), v: record(6) };
    const loss = (p: Record<string, Tensor>): Tensor => {
      const h = nb.tanh(nb.add(nb.matmul(x, p.w1), p.b1));
      const error = nb.sub(nb.matmul(h, p.w2), y);
      return nb.mean(nb.mul(error, error));
    };
    const [value, grads] = nb.valueAndGrad(loss)(params);
    const [updated, next] = nb.nn.optim.adamwUpdate(params, grads, state, { lr: 0.05 });
    return [value, updated, next];
  }, avals);
}

function adamwGlobals(rng: Rng, graph: nb.Graph): Storage[] {
  return graph.inputs.map((node, i) => {
    if (node.dtype === "float64") return Float64Array.of(rng.int(0, 5));
    // The second moments (inputs 8 to 10) must be non-negative.
    const domain = i >= 8 ? { kind: "positive" as const } : { kind: "float" as const };
    return randomData(rng, { aval: node.aval, domain });
  });
}

describe("mergeAllReduces on a data-parallel AdamW step", () => {
  for (const devices of [1, 2, 3, 4, 8]) {
    it(`needs one all-reduce on ${devices} devices`, () => {
      const mesh = { shape: [devices], axisNames: ["data"] };
      const graph = traceAdamwStep(10, 5, 6, 3);
      const specs = graph.inputs.map((node, i) => (i < 2 ? nb.P("data") : nb.ShardingSpec.replicated(node.shape.length)));
      const original = nb.partition(graph, specs.map((spec) => ({ spec, mesh })));
      expect(nb.countCollectives(original).allReduce).toBeGreaterThan(3);

      const merged = checkMerge(graph, original, adamwGlobals(new Rng(devices), graph), `${devices} devices`);
      const counts = nb.countCollectives(merged);
      expect(counts.allReduce).toBe(1);
      expect(counts.allGather).toBe(0);
      expect(counts.allToAll).toBe(0);
      const [bucket] = allReduceWaves(merged.devices[0].steps);
      expect(bucket.step.axes).toEqual(["data"]);
      expect(bucket.step.op).toBe("sum");
    });
  }

  it("never changes results under random specs", () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 2 ** 31 - 1 }), fc.integer({ min: 0, max: meshes.length - 1 }), (seed, meshIndex) => {
        const rng = new Rng(seed);
        const mesh: TestMesh = meshes[meshIndex];
        const graph = traceAdamwStep(rng.int(1, 9), rng.int(1, 5), rng.int(1, 6), rng.int(1, 4));
        const specs = graph.inputs.map((node) => randomSpec(rng, node.shape.length, mesh, node.dtype === "float32" ? ["sum"] : []));
        const original = nb.partition(graph, specs.map((spec) => ({ spec, mesh })));
        checkMerge(graph, original, adamwGlobals(rng, graph), `mesh [${mesh.shape.join(", ")}], specs ${specs.join(" ")} (seed ${seed})`);
      }),
      { numRuns: 60, seed: 9 },
    );
  });

  it("places the bucket before the update", () => {
    const mesh = { shape: [4], axisNames: ["data"] };
    const graph = traceAdamwStep(8, 3, 4, 2);
    const specs = graph.inputs.map((node, i) => (i < 2 ? nb.P("data") : nb.ShardingSpec.replicated(node.shape.length)));
    const merged = mergeAllReduces(nb.partition(graph, specs.map((spec) => ({ spec, mesh }))));
    const kinds = merged.devices[0].steps.map((step) => (step.kind === "compute" ? step.prim : step.kind));
    const bucket = kinds.indexOf("allReduce");
    expect(kinds.slice(0, bucket)).toContain("matmul");
    expect(kinds.slice(bucket + 1)).toContain("sqrt");
    expect(kinds.slice(bucket + 1)).not.toContain("matmul");
  });
});

describe("mergeAllReduces on small graphs", () => {
  const mesh = { shape: [2], axisNames: ["x"] };

  it("keeps chained all-reduces apart", () => {
    const graph = nb.traceGraph((a: Tensor) => {
      const first = nb.tanh(nb.sum(a, 0));
      return nb.tanh(nb.sum(nb.mul(a, first), 0));
    }, [f32(4, 3)]);
    const original = nb.partition(graph, [{ spec: nb.P("x"), mesh }]);
    const merged = checkMerge(graph, original, [randomData(new Rng(1), { aval: f32(4, 3), domain: { kind: "float" } })], "chain");
    expect(nb.countCollectives(merged).allReduce).toBe(2);
    expect(allReduceWaves(merged.devices[0].steps).map((w) => w.wave)).toEqual([0, 1]);
  });

  it("keeps ops and dtypes apart", () => {
    const graph = nb.traceGraph((a: Tensor, b: Tensor) => [nb.sum(a, 0), nb.max(a, 0), nb.sum(b, 0), nb.sum(nb.mul(a, 2), 0)], [f32(4, 3), { shape: [4, 3], dtype: "float64" }]);
    const original = nb.partition(graph, [{ spec: nb.P("x"), mesh }, { spec: nb.P("x"), mesh }]);
    const rng = new Rng(2);
    const globals = graph.inputs.map((node) => randomData(rng, { aval: node.aval, domain: { kind: "float" } }));
    const merged = checkMerge(graph, original, globals, "ops and dtypes");
    expect(nb.countCollectives(original).allReduce).toBe(4);
    expect(bucketKeys(merged).sort()).toEqual(["0 max [x] float32", "0 sum [x] float32", "0 sum [x] float64"]);
  });

  it("returns a program without all-reduces unchanged", () => {
    const graph = nb.traceGraph((a: Tensor) => nb.tanh(a), [f32(4, 3)]);
    const original = nb.partition(graph, [{ spec: nb.P("x"), mesh }]);
    expect(mergeAllReduces(original)).toBe(original);
  });
});

describe("mergeAllReduces on random graphs", () => {
  it("never changes results", () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 2 ** 31 - 1 }), fc.integer({ min: 0, max: meshes.length - 1 }), (seed, meshIndex) => {
        const rng = new Rng(seed);
        const mesh: TestMesh = meshes[meshIndex];
        const n = rng.int(1, 6);
        const inputCount = rng.int(1, 4);
        const recipe = randomRecipe(rng, inputCount);
        const avals = Array.from({ length: inputCount }, () => f32(n, n));
        const graph = nb.traceGraph(buildRecipe(recipe), avals);
        // Half the inputs are split on their rows, as a batch is, so reductions leave partial results.
        const specs = avals.map(() => (rng.next() < 0.5 ? nb.P(mesh.axisNames[0], null) : randomSpec(rng, 2, mesh, ["sum", "max", "min"])));
        const globals = avals.map((aval) => randomData(rng, { aval, domain: { kind: "float" } }));
        const original = nb.partition(graph, specs.map((spec) => ({ spec, mesh })));
        checkMerge(graph, original, globals, `mesh [${mesh.shape.join(", ")}], n ${n}, specs ${specs.join(" ")}, ${JSON.stringify(recipe)} (seed ${seed})`);
      }),
      { numRuns: 300, seed: 8 },
    );
  });
});
