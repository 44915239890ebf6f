// Every collective on meshes of 1 to 8 devices, compared bitwise with a main-thread reference.

import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { CollectiveSpec } from "../../../src/runtime/mesh/builders.js";
import { largeAllReduceBytes } from "../../../src/runtime/mesh/collectives.js";
import { MeshRuntime, scratchBytes } from "../../../src/runtime/mesh/runtime.js";
import type { StorageDType } from "../../../src/runtime/storage.js";
import { firstBitMismatch, runCollective } from "./helpers.js";

const meshes: readonly (readonly number[])[] = [[1], [2], [3], [4], [2, 2], [8]];
const sizes = [0, 1, 7, 4099];

function axisNamesOf(shape: readonly number[]): string[] {
  return shape.length === 1 ? ["data"] : ["data", "model"];
}

/** Returns one spec of each collective kind for a group of `p` devices. */
function specsFor(p: number, axes: readonly string[], count: number, dtype: StorageDType = "float32"): CollectiveSpec[] {
  // A ring shift, minus the pair into rank 0 when p > 2, so some rank receives nothing and must be zeroed.
  const pairs = Array.from({ length: p }, (_, r) => [r, (r + 1) % p] as const).filter(([, target]) => p <= 2 || target !== 0);
  return [
    { kind: "allReduce", op: "sum", axes, dtype, count },
    { kind: "allGather", axes, dtype, count },
    { kind: "reduceScatter", op: "sum", axes, dtype, count },
    { kind: "allToAll", axes, dtype, count },
    { kind: "broadcast", root: p - 1, axes, dtype, count },
    { kind: "permute", pairs, axes, dtype, count },
  ];
}

async function expectMatches(runtime: MeshRuntime, spec: CollectiveSpec, seed: number): Promise<void> {
  const { outputs, expected } = await runCollective(runtime, spec, seed);
  outputs.forEach((output, d) => {
    expect(firstBitMismatch(output, expected[d]), `${spec.kind} count ${spec.count} device ${d}: first mismatching element`).toBe(-1);
  });
}

for (const shape of meshes) {
  describe(`collectives on mesh [${shape.join(", ")}]`, () => {
    let runtime: MeshRuntime;
    const axes = axisNamesOf(shape);
    const p = shape.reduce((a, b) => a * b, 1);

    beforeAll(() => {
      runtime = new MeshRuntime(shape, axes, { capacityBytes: 64 * 2 ** 20 });
    });
    afterAll(async () => {
      await runtime.dispose();
    });

    for (const kind of specsFor(p, axes, 0).map((spec) => spec.kind)) {
      it(`${kind} on sizes ${sizes.join(", ")}`, async () => {
        for (const count of sizes) {
          const spec = specsFor(p, axes, count).find((candidate) => candidate.kind === kind) as CollectiveSpec;
          await expectMatches(runtime, spec, count + p);
        }
        expect(runtime.memories.map((memory) => memory.bytesInUse)).toEqual(runtime.memories.map(() => scratchBytes));
      });
    }

    it("allReduce max, min and mean in float32, float64 and int32", async () => {
      for (const op of ["max", "min", "mean"] as const) await expectMatches(runtime, { kind: "allReduce", op, axes, dtype: "float32", count: 4099 }, 7);
      await expectMatches(runtime, { kind: "allReduce", op: "mean", axes, dtype: "float64", count: 1031 }, 8);
      await expectMatches(runtime, { kind: "allReduce", op: "sum", axes, dtype: "int32", count: 1031 }, 9);
      await expectMatches(runtime, { kind: "reduceScatter", op: "max", axes, dtype: "float64", count: 517 }, 10);
    });
  });
}

describe("large collectives", () => {
  // An odd count above the large-path threshold, so the last slice is shorter than the others.
  const large = 1_048_579;

  it("uses the large path for the large size", () => {
    expect(large * 4).toBeGreaterThan(largeAllReduceBytes);
  });

  for (const shape of [[2], [3]]) {
    it(`allReduce, allGather and reduceScatter of ${large} floats on [${shape}]`, async () => {
      const runtime = new MeshRuntime(shape, ["data"], { capacityBytes: 256 * 2 ** 20 });
      try {
        await expectMatches(runtime, { kind: "allReduce", op: "sum", axes: ["data"], dtype: "float32", count: large }, 1);
        await expectMatches(runtime, { kind: "allReduce", op: "mean", axes: ["data"], dtype: "float32", count: large }, 2);
        await expectMatches(runtime, { kind: "allGather", axes: ["data"], dtype: "float32", count: large }, 3);
        await expectMatches(runtime, { kind: "reduceScatter", op: "sum", axes: ["data"], dtype: "float32", count: large >> 2 }, 4);
      } finally {
        await runtime.dispose();
      }
    });
  }
});

describe("allReduce determinism", () => {
  it("repeats bitwise identically 20 times on every device", async () => {
    const runtime = new MeshRuntime([3], ["data"], { capacityBytes: 64 * 2 ** 20 });
    try {
      for (const count of [1023, 4099, 100_003]) {
        const spec: CollectiveSpec = { kind: "allReduce", op: "sum", axes: ["data"], dtype: "float32", count };
        const first = await runCollective(runtime, spec, 42);
        for (let d = 1; d < 3; d++) expect(firstBitMismatch(first.outputs[d], first.outputs[0]), `count ${count} device ${d} against device 0`).toBe(-1);
        for (let repeat = 1; repeat < 20; repeat++) {
          const again = await runCollective(runtime, spec, 42);
          for (let d = 0; d < 3; d++) expect(firstBitMismatch(again.outputs[d], first.outputs[0]), `count ${count} run ${repeat} device ${d}`).toBe(-1);
        }
      }
    } finally {
      await runtime.dispose();
    }
  });
});
