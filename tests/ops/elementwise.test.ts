// Elementwise ops: broadcasting, weak scalar typing, int32 arithmetic, NaN handling, where, clip, cast.

import { describe, expect, it } from "vitest";
import * as nb from "../../src/index.js";

describe("broadcasting", () => {
  it("[3,1] + [1,4] gives [3,4]", () => {
    const a = nb.tensor([[0], [10], [20]]);
    const b = nb.tensor([[1, 2, 3, 4]]);
    const c = nb.add(a, b);
    expect(c.shape).toEqual([3, 4]);
    expect(c.tolist()).toEqual([
      [1, 2, 3, 4],
      [11, 12, 13, 14],
      [21, 22, 23, 24],
    ]);
  });

  it("adds leading axes to the lower-rank operand", () => {
    const a = nb.tensor([[1, 2, 3], [4, 5, 6]]);
    expect(nb.sub(a, nb.tensor([1, 1, 2])).tolist()).toEqual([[0, 1, 1], [3, 4, 4]]);
    expect(nb.mul(nb.tensor(2), a).shape).toEqual([2, 3]);
  });

  it("keeps size-0 dimensions", () => {
    const empty = nb.zeros([0, 3]);
    expect(nb.add(empty, nb.ones([1, 3])).shape).toEqual([0, 3]);
  });

  it("accepts scalar operands on either side", () => {
    const a = nb.tensor([1, 2, 4]);
    expect(nb.sub(10, a).tolist()).toEqual([9, 8, 6]);
    expect(nb.div(a, 2).tolist()).toEqual([0.5, 1, 2]);
    expect(nb.pow(2, a).tolist()).toEqual([2, 4, 16]);
  });
});

describe("dtype promotion", () => {
  it("keeps int32 for int32 tensor + integer scalar", () => {
    const c = nb.add(nb.tensor([1, 2], { dtype: "int32" }), 1);
    expect(c.dtype).toBe("int32");
    expect(c.tolist()).toEqual([2, 3]);
  });

  it("makes int32 tensor + fractional scalar float32", () => {
    const c = nb.add(nb.tensor([1, 2], { dtype: "int32" }), 1.5);
    expect(c.dtype).toBe("float32");
    expect(c.tolist()).toEqual([2.5, 3.5]);
  });

  it("never widens float32 for a scalar", () => {
    expect(nb.mul(nb.tensor([1], { dtype: "float32" }), 1e-3).dtype).toBe("float32");
    expect(nb.mul(nb.tensor([1], { dtype: "float64" }), 2).dtype).toBe("float64");
  });

  it("promotes tensor pairs along bool < int32 < float32 < float64", () => {
    const b = nb.tensor([true, false]);
    const i = nb.tensor([1, 2], { dtype: "int32" });
    const f = nb.tensor([1, 2], { dtype: "float32" });
    const d = nb.tensor([1, 2], { dtype: "float64" });
    expect(nb.add(b, i).dtype).toBe("int32");
    expect(nb.add(i, f).dtype).toBe("float32");
    expect(nb.add(f, d).dtype).toBe("float64");
    expect(nb.add(b, b).dtype).toBe("int32");
    expect(nb.promoteTypes("int32", "float64")).toBe("float64");
  });

  it("makes bool + integer scalar int32", () => {
    const c = nb.add(nb.tensor([true, false]), 1);
    expect(c.dtype).toBe("int32");
    expect(c.tolist()).toEqual([2, 1]);
  });
});

describe("int32 arithmetic", () => {
  const a = nb.tensor([7, -7, 5], { dtype: "int32" });
  const b = nb.tensor([2, 2, -3], { dtype: "int32" });

  it("adds, subtracts and multiplies exactly", () => {
    expect(nb.add(a, b).tolist()).toEqual([9, -5, 2]);
    expect(nb.sub(a, b).tolist()).toEqual([5, -9, 8]);
    expect(nb.mul(a, b).tolist()).toEqual([14, -14, -15]);
    expect(nb.mul(a, b).dtype).toBe("int32");
  });

  it("wraps on overflow like int32", () => {
    const big = nb.tensor([2147483647, 65536], { dtype: "int32" });
    expect(nb.add(big, 1).tolist()).toEqual([-2147483648, 65537]);
    expect(nb.mul(big, nb.tensor([1, 65536], { dtype: "int32" })).tolist()).toEqual([2147483647, 0]);
  });

  it("divides truly into float32", () => {
    const q = nb.div(a, b);
    expect(q.dtype).toBe("float32");
    expect(q.tolist()).toEqual([3.5, -3.5, Math.fround(5 / -3)]);
  });

  it("negates, takes abs and sign", () => {
    expect(nb.neg(a).tolist()).toEqual([-7, 7, -5]);
    expect(nb.abs(a).tolist()).toEqual([7, 7, 5]);
    expect(nb.sign(nb.tensor([-3, 0, 4], { dtype: "int32" })).tolist()).toEqual([-1, 0, 1]);
    expect(nb.abs(a).dtype).toBe("int32");
  });

  it("computes float functions of ints in float32", () => {
    const e = nb.exp(nb.tensor([0, 1], { dtype: "int32" }));
    expect(e.dtype).toBe("float32");
    expect(e.tolist()).toEqual([1, Math.fround(Math.E)]);
  });

  it("computes maximum and minimum in int32", () => {
    expect(nb.maximum(a, b).tolist()).toEqual([7, 2, 5]);
    expect(nb.minimum(a, b).tolist()).toEqual([2, -7, -3]);
  });
});

describe("unary values", () => {
  const x = nb.tensor([-2, -0.5, 0, 0.5, 2], { dtype: "float64" });

  it("matches Math for smooth functions", () => {
    const cases: [(t: nb.Tensor) => nb.Tensor, (v: number) => number][] = [
      [nb.exp, Math.exp],
      [nb.sin, Math.sin],
      [nb.cos, Math.cos],
      [nb.tanh, Math.tanh],
      [nb.neg, (v) => -v],
      [nb.square, (v) => v * v],
    ];
    for (const [op, ref] of cases) {
      expect(op(x).tolist()).toEqual([-2, -0.5, 0, 0.5, 2].map(ref));
    }
  });

  it("computes relu, abs, sign, sigmoid and erf", () => {
    expect(nb.relu(x).tolist()).toEqual([0, 0, 0, 0.5, 2]);
    expect(nb.abs(x).tolist()).toEqual([2, 0.5, 0, 0.5, 2]);
    expect(nb.sign(x).tolist()).toEqual([-1, -1, 0, 1, 1]);
    const s = nb.sigmoid(nb.tensor([0, 800, -800], { dtype: "float64" })).tolist() as number[];
    expect(s).toEqual([0.5, 1, 0]);
    // erf(0.5) = 0.5204998778130465 and erf(2) = 0.9953222650189527 (Abramowitz and Stegun, table 7.1).
    const e = nb.erf(x).toArray();
    expect(e[3]).toBeCloseTo(0.5204998778130465, 14);
    expect(e[4]).toBeCloseTo(0.9953222650189527, 14);
    expect(e[0]).toBeCloseTo(-0.9953222650189527, 14);
  });

  it("computes log, log1p, sqrt and rsqrt on positive inputs", () => {
    const p = nb.tensor([0.25, 1, 4], { dtype: "float64" });
    expect(nb.log(p).tolist()).toEqual([Math.log(0.25), 0, Math.log(4)]);
    expect(nb.log1p(nb.tensor([1e-20], { dtype: "float64" })).item()).toBe(1e-20);
    expect(nb.sqrt(p).tolist()).toEqual([0.5, 1, 2]);
    expect(nb.rsqrt(p).tolist()).toEqual([2, 1, 0.5]);
  });
});

describe("NaN propagation", () => {
  it("maximum and minimum return NaN when either operand is NaN", () => {
    const a = nb.tensor([NaN, 1, 2]);
    const b = nb.tensor([0, NaN, 1]);
    expect(nb.maximum(a, b).tolist()).toEqual([NaN, NaN, 2]);
    expect(nb.minimum(a, b).tolist()).toEqual([NaN, NaN, 1]);
  });

  it("relu keeps NaN", () => {
    expect(nb.relu(nb.tensor([NaN, -1])).tolist()).toEqual([NaN, 0]);
  });
});

describe("comparisons and logic", () => {
  const a = nb.tensor([1, 2, 3]);
  const b = nb.tensor([3, 2, 1]);

  it("compares elementwise into bool", () => {
    expect(nb.equal(a, b).tolist()).toEqual([false, true, false]);
    expect(nb.notEqual(a, b).tolist()).toEqual([true, false, true]);
    expect(nb.less(a, b).tolist()).toEqual([true, false, false]);
    expect(nb.lessEqual(a, b).tolist()).toEqual([true, true, false]);
    expect(nb.greater(a, 2).tolist()).toEqual([false, false, true]);
    expect(nb.greaterEqual(a, 2).tolist()).toEqual([false, true, true]);
    expect(nb.less(a, b).dtype).toBe("bool");
  });

  it("treats NaN as unequal to everything", () => {
    const n = nb.tensor([NaN]);
    expect(nb.equal(n, n).tolist()).toEqual([false]);
    expect(nb.notEqual(n, n).tolist()).toEqual([true]);
  });

  it("combines bools", () => {
    const p = nb.tensor([true, true, false, false]);
    const q = nb.tensor([true, false, true, false]);
    expect(nb.logicalAnd(p, q).tolist()).toEqual([true, false, false, false]);
    expect(nb.logicalOr(p, q).tolist()).toEqual([true, true, true, false]);
    expect(nb.logicalNot(p).tolist()).toEqual([false, false, true, true]);
    expect(nb.logicalNot(nb.tensor([0, 2.5])).tolist()).toEqual([true, false]);
  });
});

describe("where, clip, cast", () => {
  it("where broadcasts condition and branches", () => {
    const c = nb.tensor([[true], [false]]);
    const out = nb.where(c, nb.tensor([1, 2, 3]), -1);
    expect(out.shape).toEqual([2, 3]);
    expect(out.tolist()).toEqual([[1, 2, 3], [-1, -1, -1]]);
  });

  it("where casts a numeric condition to bool", () => {
    expect(nb.where(nb.tensor([0, 0.5, -2]), 1, 0).tolist()).toEqual([0, 1, 1]);
  });

  it("where keeps int32 branches int32", () => {
    const out = nb.where(nb.tensor([true, false]), nb.tensor([1, 2], { dtype: "int32" }), 0);
    expect(out.dtype).toBe("int32");
  });

  it("clip limits to the closed interval", () => {
    const x = nb.tensor([-3, -1, 0, 1, 3]);
    expect(nb.clip(x, -1, 2).tolist()).toEqual([-1, -1, 0, 1, 2]);
    expect(nb.clip(x, null, 0).tolist()).toEqual([-3, -1, 0, 0, 0]);
    expect(nb.clip(x, 0).tolist()).toEqual([0, 0, 0, 1, 3]);
    expect(x.clip(nb.tensor([0, 0, 0, 0, 5]), 2).tolist()).toEqual([0, 0, 0, 1, 2]);
  });

  it("cast truncates toward zero and maps nonzero to true", () => {
    const x = nb.tensor([-2.7, -0.5, 0, 0.5, 2.7]);
    expect(nb.cast(x, "int32").tolist()).toEqual([-2, 0, 0, 0, 2]);
    expect(nb.cast(x, "bool").tolist()).toEqual([true, true, false, true, true]);
    expect(nb.cast(nb.tensor([true, false]), "float32").tolist()).toEqual([1, 0]);
    expect(nb.cast(x, "float64").dtype).toBe("float64");
  });

  it("cast to float32 rounds float64 values", () => {
    expect(nb.cast(nb.tensor([0.1], { dtype: "float64" }), "float32").item()).toBe(Math.fround(0.1));
  });
});
