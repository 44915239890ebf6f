import { describe, expect, test } from "vitest";
import * as nb from "../../src/index.js";
import { planMemory, type PlannedBuffer } from "../../src/compiler/wasm/memory-plan.js";
import { Rng } from "../support/random.js";

function overlaps(a: [number, number], b: [number, number]): boolean {
  return a[0] < b[1] && b[0] < a[1];
}

describe("memory plan", () => {
  test("buffers alive together never share bytes", () => {
    const rng = new Rng(5);
    for (let trial = 0; trial < 20; trial++) {
      const buffers: PlannedBuffer[] = Array.from({ length: 60 }, () => {
        const first = rng.next() < 0.2 ? -1 : rng.int(0, 40);
        const last = rng.next() < 0.15 ? Infinity : first + rng.int(0, 10);
        return { bytes: rng.int(1, 300), firstStep: first, lastStep: Math.max(first, last) };
      });
      const { offsets, arenaBytes } = planMemory(buffers);
      for (let i = 0; i < buffers.length; i++) {
        expect(offsets[i] + buffers[i].bytes).toBeLessThanOrEqual(arenaBytes);
        for (let j = i + 1; j < buffers.length; j++) {
          const live: [number, number][] = [[buffers[i].firstStep, buffers[i].lastStep], [buffers[j].firstStep, buffers[j].lastStep]];
          const together = live[0][0] <= live[1][1] && live[1][0] <= live[0][1];
          if (!together) continue;
          expect(overlaps([offsets[i], offsets[i] + buffers[i].bytes], [offsets[j], offsets[j] + buffers[j].bytes])).toBe(false);
        }
      }
    }
  });

  test("temporaries with disjoint lifetimes reuse space", () => {
    const buffers: PlannedBuffer[] = [
      { bytes: 1024, firstStep: 0, lastStep: 1 },
      { bytes: 1024, firstStep: 2, lastStep: 3 },
    ];
    const { offsets, arenaBytes } = planMemory(buffers);
    expect(offsets[0]).toBe(offsets[1]);
    expect(arenaBytes).toBe(1024);
  });

  test("a long chain of ops realizes and differentiates", () => {
    const x = nb.tensor([1, 2, 3], { requiresGrad: true });
    let y = x;
    for (let i = 0; i < 3000; i++) y = y.mul(0.999).add(0.001);
    const s = y.sum();
    s.backward();
    const scale = 0.999 ** 3000;
    expect(s.item()).toBeCloseTo(6 * scale + 3 * (1 - scale), 3);
    expect(x.grad?.toArray()[0]).toBeCloseTo(scale, 4);
  });
});
