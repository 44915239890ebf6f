// Reductions: axes (negative, lists), keepdims, empty inputs, ties and NaN, and the composite reductions.

import { describe, expect, it } from "vitest";
import * as nb from "../../src/index.js";
import { expectClose } from "../support/finite-differences.js";

const x = nb.tensor([
  [1, 5, 2],
  [4, 0, 6],
]);

describe("sum, mean, max, min, prod", () => {
  it("reduces all axes by default", () => {
    expect(nb.sum(x).item()).toBe(18);
    expect(nb.mean(x).item()).toBe(3);
    expect(nb.max(x).item()).toBe(6);
    expect(nb.min(x).item()).toBe(0);
    expect(nb.prod(nb.tensor([2, 3, 4])).item()).toBe(24);
    expect(nb.sum(x).shape).toEqual([]);
  });

  it("reduces one axis, negative axes and axis lists", () => {
    expect(nb.sum(x, 0).tolist()).toEqual([5, 5, 8]);
    expect(nb.sum(x, -1).tolist()).toEqual([8, 10]);
    expect(nb.max(x, { axis: 1 }).tolist()).toEqual([5, 6]);
    expect(nb.min(x, { axis: -2 }).tolist()).toEqual([1, 0, 2]);
    expect(nb.sum(x, [0, 1]).item()).toBe(18);
    expect(nb.prod(x, 0).tolist()).toEqual([4, 0, 12]);
  });

  it("keepdims keeps reduced axes with size 1", () => {
    const s = nb.sum(x, { axis: 1, keepdims: true });
    expect(s.shape).toEqual([2, 1]);
    expect(s.tolist()).toEqual([[8], [10]]);
    expect(nb.mean(x, { keepdims: true }).shape).toEqual([1, 1]);
    expect(nb.max(x, { axis: -1, keepdims: true }).tolist()).toEqual([[5], [6]]);
  });

  it("method forms match the functions", () => {
    expect(x.sum(0).tolist()).toEqual([5, 5, 8]);
    expect(x.mean(1).tolist()).toEqual([8 / 3, 10 / 3].map(Math.fround));
    expect(x.max().item()).toBe(6);
  });

  it("reduces size-1 axes", () => {
    const y = nb.tensor([[[3], [4]]]);
    expect(nb.sum(y, [0, 2]).tolist()).toEqual([3, 4]);
    expect(nb.max(y, 0).shape).toEqual([2, 1]);
  });

  it("sums bools and ints into int32", () => {
    expect(nb.sum(nb.tensor([true, true, false])).item()).toBe(2);
    expect(nb.sum(nb.tensor([true, false])).dtype).toBe("int32");
    expect(nb.sum(nb.tensor([1, 2], { dtype: "int32" })).dtype).toBe("int32");
  });

  it("wraps int32 sum and prod around 2^32", () => {
    const int = (data: number[]): nb.Tensor => nb.tensor(Int32Array.from(data));
    expect(nb.sum(int([2147483647, 1])).item()).toBe(-2147483648);
    expect(nb.sum(int([-2147483648, -1, 5])).item()).toBe(-2147483644);
    expect(nb.prod(int([65536, 65536, 7])).item()).toBe(0);
    // 3^40 needs more than 53 bits, so a float64 product would round before the wrap.
    expect(nb.prod(int(new Array<number>(40).fill(3))).item()).toBe(Number(3n ** 40n % 2n ** 32n) | 0);
  });

  it("means ints in float32", () => {
    const m = nb.mean(nb.tensor([1, 2], { dtype: "int32" }));
    expect(m.dtype).toBe("float32");
    expect(m.item()).toBe(1.5);
  });
});

describe("empty inputs", () => {
  const empty = nb.zeros([2, 0]);

  it("sum over an empty axis is 0", () => {
    expect(nb.sum(empty, 1).tolist()).toEqual([0, 0]);
    expect(nb.sum(nb.zeros([0])).item()).toBe(0);
    expect(nb.sum(empty, 0).shape).toEqual([0]);
  });

  it("prod over an empty axis is 1", () => {
    expect(nb.prod(empty, 1).tolist()).toEqual([1, 1]);
  });

  it("mean of empty is NaN", () => {
    expect(nb.mean(nb.zeros([0])).item()).toBeNaN();
    expect(nb.mean(empty, 1).tolist()).toEqual([NaN, NaN]);
  });

  it("max and min over an empty axis raise", () => {
    expect(() => nb.max(empty, 1)).toThrow(nb.ValueError);
    expect(() => nb.min(nb.zeros([0]))).toThrow(/size 0/);
    expect(() => nb.argmax(nb.zeros([0]))).toThrow(nb.ValueError);
  });

  it("max keeps an empty non-reduced axis", () => {
    expect(nb.max(empty, 0).shape).toEqual([0]);
  });
});

describe("argmax and argmin", () => {
  it("returns the first index on ties", () => {
    const t = nb.tensor([[3, 7, 7, 1], [2, 2, 0, 0]]);
    expect(nb.argmax(t, 1).tolist()).toEqual([1, 0]);
    expect(nb.argmin(t, 1).tolist()).toEqual([3, 2]);
    expect(nb.argmax(nb.tensor([5, 5, 5])).item()).toBe(0);
    expect(nb.argmax(t, 1).dtype).toBe("int32");
  });

  it("indexes into the flat data without an axis", () => {
    const t = nb.tensor([[3, 7, 9], [9, 0, 1]]);
    expect(nb.argmax(t).item()).toBe(2);
    expect(nb.argmin(t).item()).toBe(4);
  });

  it("handles negative axes and keepdims", () => {
    const t = nb.tensor([[3, 7, 9], [9, 0, 1]]);
    expect(nb.argmax(t, { axis: -2 }).tolist()).toEqual([1, 0, 0]);
    const k = nb.argmin(t, { axis: 0, keepdims: true });
    expect(k.shape).toEqual([1, 3]);
    expect(k.tolist()).toEqual([[0, 1, 1]]);
    expect(nb.argmax(t, { keepdims: true }).shape).toEqual([1, 1]);
  });

  it("treats NaN as the extreme, first NaN wins", () => {
    expect(nb.argmax(nb.tensor([1, NaN, 5, NaN])).item()).toBe(1);
    expect(nb.argmin(nb.tensor([1, -2, NaN])).item()).toBe(2);
  });

  it("finds -Infinity and Infinity", () => {
    expect(nb.argmax(nb.tensor([-Infinity, -Infinity])).item()).toBe(0);
    expect(nb.argmin(nb.tensor([0, -Infinity, 1])).item()).toBe(1);
  });
});

describe("NaN in reductions", () => {
  it("max and min propagate NaN wherever it appears", () => {
    expect(nb.max(nb.tensor([NaN, 1, 2])).item()).toBeNaN();
    expect(nb.max(nb.tensor([1, 2, NaN])).item()).toBeNaN();
    expect(nb.min(nb.tensor([1, NaN, 0])).item()).toBeNaN();
    expect(nb.max(nb.tensor([[1, NaN], [3, 4]]), 1).tolist()).toEqual([NaN, 4]);
  });
});

describe("var, logsumexp, softmax", () => {
  const v = nb.tensor([1, 2, 3, 4], { dtype: "float64" });

  it("var uses Bessel's correction by default", () => {
    expect(nb.variance(v).item()).toBeCloseTo(5 / 3, 14);
    expect(nb.variance(v, { correction: 0 }).item()).toBeCloseTo(1.25, 14);
    expect(nb.var(nb.tensor([[1, 3], [2, 6]], { dtype: "float64" }), 0).tolist()).toEqual([0.5, 4.5]);
    expect(nb.variance(nb.tensor([[1, 3], [2, 6]]), { axis: 1, keepdims: true }).tolist()).toEqual([[2], [8]]);
  });

  it("logsumexp is stable for large inputs", () => {
    const big = nb.tensor([1000, 1000], { dtype: "float64" });
    expect(nb.logsumexp(big).item()).toBeCloseTo(1000 + Math.LN2, 10);
    expect(nb.logsumexp(nb.tensor([-Infinity, -Infinity])).item()).toBe(-Infinity);
    const t = nb.tensor([[0, Math.log(3)], [1, 1]], { dtype: "float64" });
    expectClose(nb.logsumexp(t, 1).toArray(), [Math.log(4), 1 + Math.LN2], { rtol: 1e-14 });
    expect(nb.logsumexp(t, { axis: 0, keepdims: true }).shape).toEqual([1, 2]);
  });

  it("softmax sums to 1 along its axis and ignores shifts", () => {
    const t = nb.tensor([[1, 2, 3], [1001, 1002, 1003]], { dtype: "float64" });
    const s = nb.softmax(t);
    const e = [1, Math.E, Math.E ** 2];
    const z = e[0] + e[1] + e[2];
    expectClose(s.toArray(), [...e, ...e].map((v) => v / z), { rtol: 1e-12 });
    expectClose(nb.softmax(t, 0).sum(0).toArray(), [1, 1, 1], { rtol: 1e-12 });
  });

  it("logSoftmax equals log of softmax", () => {
    const t = nb.tensor([[0.5, -1, 2]], { dtype: "float64" });
    expectClose(nb.logSoftmax(t).toArray(), nb.log(nb.softmax(t)).toArray(), { rtol: 1e-12 });
  });

  it("logsumexp over an empty axis is -Infinity", () => {
    expect(nb.logsumexp(nb.zeros([0])).item()).toBe(-Infinity);
    expect(nb.logsumexp(nb.zeros([2, 0]), 1).tolist()).toEqual([-Infinity, -Infinity]);
    expect(nb.logsumexp(nb.zeros([2, 0]), 0).shape).toEqual([0]);
  });

  it("softmax and logSoftmax of an empty axis are empty", () => {
    expect(nb.softmax(nb.zeros([3, 0])).shape).toEqual([3, 0]);
    expect(nb.logSoftmax(nb.zeros([0, 3]), 0).shape).toEqual([0, 3]);
  });

  it("softmax of int input is float32", () => {
    expect(nb.softmax(nb.tensor([1, 2], { dtype: "int32" })).dtype).toBe("float32");
  });
});
