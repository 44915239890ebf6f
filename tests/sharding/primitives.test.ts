// Every primitive, partitioned over random shapes, meshes and specs, equals its unsharded reference result.

import fc from "fast-check";
import { describe, it } from "vitest";
import * as nb from "../../src/index.js";
import type { PrimitiveName } from "../../src/core/primitive-names.js";
import { shardingRules } from "../../src/sharding/rules.js";
import { cases, partialOpsFor } from "./primitive-cases.js";
import { checkAgainstReference, describeCase, meshes, randomSpec, randomData, Rng } from "./spmd-support.js";

describe("sharding rules", () => {
  it("cover every primitive", () => {
    for (const prim of Object.keys(cases)) {
      if (!(prim in shardingRules)) throw new Error(`${prim} has no sharding rule`);
    }
  });

  for (const prim of Object.keys(cases) as PrimitiveName[]) {
    it(`${prim} matches the unsharded result`, () => {
      fc.assert(
        fc.property(fc.integer({ min: 0, max: 2 ** 31 - 1 }), fc.integer({ min: 0, max: meshes.length - 1 }), (seed, meshIndex) => {
          const rng = new Rng(seed);
          const mesh = meshes[meshIndex];
          const { inputs, fn } = cases[prim](rng);
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
