// Every primitive, partitioned over random shapes, meshes and specs, equals its unsharded reference result.

import { describe, expect, it } from "vitest";
import * as nb from "../../src/index.js";
import type { PrimitiveName } from "../../src/core/primitive-names.js";
import { shardingRules } from "../../src/sharding/rules.js";
import { withBoundAxes } from "../../src/sharding/axis-env.js";
import { assertOverRandomCases, cases } from "./primitive-cases.js";
import { checkAgainstReference, meshes } from "./spmd-support.js";

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
      assertOverRandomCases(prim, testCase, ({ graph, specs, meshIndex, globals, label }) => void checkAgainstReference(graph, specs, meshes[meshIndex], globals, label), { numRuns: 40, seed: 1 });
    });
  }
});
