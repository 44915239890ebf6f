// Laziness: ops record nodes and compute nothing until a realization point; realized graphs stay correct.

import { describe, expect, it } from "vitest";
import * as nb from "../../src/index.js";

describe("lazy graph", () => {
  it("records a node per op without computing it", () => {
    const x = nb.tensor([1, 2, 3]);
    expect(x.node.realized).toBe(true);
    const y = nb.mul(nb.add(x, 1), 2);
    expect(y.node.kind).toBe("op");
    expect(y.node.prim).toBe("mul");
    expect(y.node.realized).toBe(false);
    expect(y.node.inputs[0].prim).toBe("add");
    expect(y.node.inputs[0].realized).toBe(false);
  });

  it("knows shape and dtype before realization", () => {
    const y = nb.matmul(nb.ones([3, 5]), nb.ones([5, 7], { dtype: "float64" }));
    expect(y.shape).toEqual([3, 7]);
    expect(y.dtype).toBe("float64");
    expect(y.node.realized).toBe(false);
  });

  it("realizes on item, toArray, tolist and toString", () => {
    const reads: ((t: nb.Tensor) => unknown)[] = [(t) => t.max().item(), (t) => nb.realize(t), (t) => t.toArray(), (t) => t.tolist(), (t) => t.toString()];
    for (const [i, read] of reads.entries()) {
      const y = i === 0 ? nb.exp(nb.tensor([1])).sum() : nb.exp(nb.tensor([0, 1]));
      expect(y.node.realized).toBe(false);
      read(y);
      expect(y.node.realized).toBe(true);
    }
  });

  it("recomputes an intermediate that was fused away", () => {
    // The wasm backend fuses a into b's kernel; the reference backend would keep every intermediate.
    nb.setBackend("wasm");
    try {
      const a = nb.add(nb.tensor([1]), 1);
      const b = nb.mul(a, 3);
      expect(b.item()).toBe(6);
      expect(a.node.realized).toBe(false);
      expect(a.node.inputs).toHaveLength(2);
      expect(a.item()).toBe(2);
    } finally {
      nb.setBackend(undefined);
    }
  });

  it("keeps tracked intermediates for the backward pass", () => {
    const w = nb.tensor([1.5], { requiresGrad: true });
    const a = nb.mul(w, 2);
    const b = nb.mul(a, a);
    expect(b.item()).toBe(9);
    expect(a.node.realized).toBe(true);
  });

  it("nb.realize computes several tensors in one pass", () => {
    const x = nb.tensor([1, 2]);
    const shared = nb.exp(x);
    const p = nb.add(shared, 1);
    const q = nb.mul(shared, 2);
    nb.realize(p, q);
    expect(p.node.realized).toBe(true);
    expect(q.node.realized).toBe(true);
    expect(shared.toArray()[1]).toBe(Math.fround(Math.exp(2)));
    expect(q.toArray()[1]).toBe(Math.fround(2 * Math.fround(Math.exp(2))));
  });

  it("defers gather index errors to realization", () => {
    const y = nb.gather(nb.ones([3]), nb.tensor([5], { dtype: "int32" }));
    expect(y.node.realized).toBe(false);
    expect(() => y.toArray()).toThrow(nb.IndexError);
  });

  it("leaves inputs untouched", () => {
    const x = nb.tensor([1, 2, 3]);
    nb.add(x, 1).realize();
    nb.flip(x).realize();
    expect(x.tolist()).toEqual([1, 2, 3]);
  });
});

describe("graphs with the same structure", () => {
  it("give results that depend on their own data", () => {
    const run = (values: number[]): unknown => nb.sum(nb.mul(nb.tensor(values), 2)).item();
    expect(run([1, 2])).toBe(6);
    expect(run([5, 7])).toBe(24);
  });

  it("give results that depend on their own parameters", () => {
    const x = nb.tensor([1, 2, 3, 4]);
    expect(nb.slice(x, [[0, 4, 2]]).tolist()).toEqual([1, 3]);
    expect(nb.slice(x, [[1, 4, 2]]).tolist()).toEqual([2, 4]);
    expect(nb.pad(x, [[1, 0]], 5).tolist()).toEqual([5, 1, 2, 3, 4]);
    expect(nb.pad(x, [[1, 0]], 6).tolist()).toEqual([6, 1, 2, 3, 4]);
  });

  it("keep non-finite parameters apart", () => {
    const x = nb.tensor([1, 2]);
    expect(nb.pad(x, [[1, 0]], -Infinity).tolist()).toEqual([-Infinity, 1, 2]);
    expect(nb.pad(x, [[1, 0]], Infinity).tolist()).toEqual([Infinity, 1, 2]);
    expect(nb.pad(x, [[1, 0]], NaN).tolist()).toEqual([NaN, 1, 2]);
  });

  it("keep -0 and 0 parameters apart", () => {
    const x = nb.tensor([1]);
    expect(Object.is((nb.pad(x, [[1, 0]], 0).tolist() as number[])[0], 0)).toBe(true);
    expect(Object.is((nb.pad(x, [[1, 0]], -0).tolist() as number[])[0], -0)).toBe(true);
  });
});
