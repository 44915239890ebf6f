// Partitioned programs run on real meshes of worker threads: every primitive over random shapes and
// specs, uneven and empty shards included, equals the unsharded reference result.

import { afterAll, beforeAll, describe, expect, it } from "vitest";
import * as nb from "../../src/index.js";
import type { PrimitiveName } from "../../src/core/primitive-names.js";
import type { Tensor } from "../../src/core/tensor.js";
import { MeshExecutable } from "../../src/compiler/mesh/executable.js";
import { assertOverRandomCases, cases, randomCase } from "./primitive-cases.js";
import { expectClose, meshes, randomData, referenceRun, Rng } from "./spmd-support.js";

const devices: nb.DeviceMesh[] = [];

beforeAll(async () => {
  for (const mesh of meshes) devices.push(await nb.DeviceMesh.create(mesh.shape, mesh.axisNames));
}, 60_000);

afterAll(async () => {
  await Promise.all(devices.map((mesh) => mesh.dispose()));
});

function checkOnMesh(graph: nb.Graph, specs: readonly nb.ShardingSpec[], meshIndex: number, globals: readonly nb.Tensor["node"]["buffer"][], label: string): void {
  const mesh = devices[meshIndex];
  const program = nb.partition(graph, specs.map((spec) => ({ spec, mesh })), { bucketOutputReductions: true });
  const executable = new MeshExecutable(mesh, program, label, { checkReplicas: true });
  try {
    const actual = executable.run(globals as never);
    const expected = referenceRun(graph, globals as never);
    actual.forEach((out, i) => expectClose(out, expected[i], `${label}, output ${i}`));
  } finally {
    executable.dispose();
  }
}

describe("mesh execution", () => {
  for (const prim of Object.keys(cases) as PrimitiveName[]) {
    const testCase = randomCase(prim);
    if (testCase === undefined) continue;
    it(`${prim} matches the unsharded result`, () => {
      assertOverRandomCases(prim, testCase, ({ graph, specs, meshIndex, globals, label }) => checkOnMesh(graph, specs, meshIndex, globals, label), { numRuns: 8, seed: 7 });
    });
  }

  it("trains an MLP step data-parallel with one bucketed all-reduce", () => {
    const f32 = (...shape: number[]) => ({ shape, dtype: "float32" as const });
    const avals = [f32(13, 5), f32(13, 2), f32(5, 7), f32(7), f32(7, 2)];
    const graph = nb.traceGraph((x: Tensor, y: Tensor, w1: Tensor, b1: Tensor, w2: Tensor) =>
      nb.valueAndGrad((p: Tensor, q: Tensor, r: Tensor) => {
        const error = nb.sub(nb.matmul(nb.tanh(nb.add(nb.matmul(x, p), q)), r), y);
        return nb.mean(nb.mul(error, error));
      }, { argnums: [0, 1, 2] })(w1, b1, w2), avals);
    const rng = new Rng(11);
    const globals = avals.map((aval) => randomData(rng, { aval, domain: { kind: "float" } }));
    const mesh = devices[1];
    const specs = [nb.P("x"), nb.P("x"), nb.P(), nb.P(), nb.P()];
    const program = nb.partition(graph, specs.map((spec) => ({ spec, mesh })), { bucketOutputReductions: true });
    expect(nb.countCollectives(program).allReduce).toBe(1);
    checkOnMesh(graph, specs, 1, globals, "data-parallel MLP");
  });
});
