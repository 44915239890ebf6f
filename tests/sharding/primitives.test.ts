// Every primitive, partitioned over random shapes, meshes and specs, equals its unsharded reference result.

import fc from "fast-check";
import { describe, expect, it } from "vitest";
import * as nb from "../../src/index.js";
import type { PrimitiveName } from "../../src/core/primitive-names.js";
import { shardingRules } from "../../src/sharding/rules.js";
import { withBoundAxes } from "../../src/sharding/axis-env.js";
import { cases, partialOpsFor } from "./primitive-cases.js";
import { checkAgainstReference, describeCase, meshes, randomSpec, randomData, Rng } from "./spmd-support.js";

describe("sharding rules", () => {
  it("cover every primitive", () => {
    for (const prim of Object.keys(cases)) {
      if (!(prim in shardingRules)) throw new Error(`${prim} has no sharding rule`);
    }
  });

  for (const prim of Object.keys(cases) as PrimitiveName[]) {
    const testCase = cases[prim];
    if ("createdWithValue" in testCase) {
      it(`${prim} rule is never asked for`, () => {
        const spec = nb.P(null);
        const args = { specs: [spec], avals: [{ shape: [2], dtype: "float32" as const }], out: { shape: [2], dtype: "float32" as const }, params: { output: 0 }, mesh: meshes[1] };
        expect(() => shardingRules.shardMapCall(args)).toThrow(nb.InternalError);
      });
      continue;
    }
    if ("shardMapOnly" in testCase) {
      it(`${prim} raises in the partitioner`, () => {
        const mesh = { shape: [2], axisNames: ["x"] };
        const graph = withBoundAxes(mesh, () => nb.traceGraph(testCase.shardMapOnly as (...args: never[]) => unknown, [{ shape: [4, 2], dtype: "float32" }]));
        const run = (): nb.SpmdProgram => nb.partition(graph, [{ spec: nb.P("x"), mesh }]);
        expect(run).toThrow(nb.ShardingError);
        expect(run).toThrow(/an explicit collective; run graphs with explicit collectives through nb.shardMap/);
      });
      continue;
    }
    it(`${prim} matches the unsharded result`, () => {
      fc.assert(
        fc.property(fc.integer({ min: 0, max: 2 ** 31 - 1 }), fc.integer({ min: 0, max: meshes.length - 1 }), (seed, meshIndex) => {
          const rng = new Rng(seed);
          const mesh = meshes[meshIndex];
          const { inputs, fn } = testCase(rng);
          const specs = inputs.map((input) => randomSpec(rng, input.aval.shape.length, mesh, partialOpsFor(input)));
          const globals = inputs.map((input) => randomData(rng, input));
          const graph = nb.traceGraph(fn as (...args: never[]) => unknown, inputs.map((input) => input.aval));
          checkAgainstReference(graph, specs, mesh, globals, `${prim} on ${describeCase(mesh, specs, inputs.map((i) => i.aval))} (seed ${seed})`);
        }),
        { numRuns: 40, seed: 1 },
      );
    });
  }
});
