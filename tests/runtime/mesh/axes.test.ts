// Collectives along one named axis of a 2-D mesh stay within each group of that axis.

import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { CollectiveSpec } from "../../../src/runtime/mesh/builders.js";
import { MeshRuntime } from "../../../src/runtime/mesh/runtime.js";
import { firstBitMismatch, runCollective } from "./helpers.js";

const axisChoices: readonly (readonly string[])[] = [["model"], ["data"], ["model", "data"]];

for (const shape of [[2, 2], [2, 4]]) {
  describe(`per-axis collectives on [${shape.join(", ")}]`, () => {
    let runtime: MeshRuntime;
    beforeAll(() => {
      runtime = new MeshRuntime(shape, ["data", "model"]);
    });
    afterAll(async () => {
      await runtime.dispose();
    });

    for (const axes of axisChoices) {
      it(`six collectives along [${axes.join(", ")}]`, async () => {
        const specs: CollectiveSpec[] = [
          { kind: "allReduce", op: "sum", axes, dtype: "float32", count: 4099 },
          { kind: "allReduce", op: "max", axes, dtype: "float32", count: 20_011 },
          { kind: "allGather", axes, dtype: "float32", count: 513 },
          { kind: "reduceScatter", op: "sum", axes, dtype: "float32", count: 257 },
          { kind: "allToAll", axes, dtype: "int32", count: 129 },
          { kind: "permute", pairs: [[0, 1], [1, 0]], axes, dtype: "float64", count: 65 },
        ];
        for (const [index, spec] of specs.entries()) {
          const { outputs, expected } = await runCollective(runtime, spec, 50 + index);
          outputs.forEach((output, d) => expect(firstBitMismatch(output, expected[d]), `${spec.kind} device ${d}`).toBe(-1));
        }
      });
    }
  });
}

describe("axis groups on [2, 4]", () => {
  it("allGather along model concatenates the row of the device", async () => {
    const runtime = new MeshRuntime([2, 4], ["data", "model"]);
    try {
      const { inputs, outputs } = await runCollective(runtime, { kind: "allGather", axes: ["model"], dtype: "float32", count: 3 }, 5);
      expect(Array.from(outputs[5])).toEqual([4, 5, 6, 7].flatMap((d) => Array.from(inputs[d])));
      expect(Array.from(outputs[2])).toEqual([0, 1, 2, 3].flatMap((d) => Array.from(inputs[d])));
      const column = await runCollective(runtime, { kind: "allReduce", op: "sum", axes: ["data"], dtype: "float64", count: 2 }, 6);
      expect(Array.from(column.outputs[6])).toEqual([0, 1].map((i) => column.inputs[2][i] + column.inputs[6][i]));
    } finally {
      await runtime.dispose();
    }
  });
});
