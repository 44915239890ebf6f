// matmul (NumPy rules for 1-D operands and batch broadcasting) and outer.

import { describe, expect, it } from "vitest";
import * as nb from "../../src/index.js";

const a = nb.tensor([
  [1, 2],
  [3, 4],
  [5, 6],
]);
const b = nb.tensor([
  [1, 0, 2],
  [0, 1, 3],
]);

describe("matmul", () => {
  it("multiplies matrices", () => {
    const c = nb.matmul(a, b);
    expect(c.shape).toEqual([3, 3]);
    expect(c.tolist()).toEqual([[1, 2, 8], [3, 4, 18], [5, 6, 28]]);
    expect(a.matmul(b).tolist()).toEqual(c.tolist());
  });

  it("treats a 1-D left operand as a row and drops it", () => {
    const c = nb.matmul(nb.tensor([1, 1, 1]), a);
    expect(c.shape).toEqual([2]);
    expect(c.tolist()).toEqual([9, 12]);
  });

  it("treats a 1-D right operand as a column and drops it", () => {
    const c = nb.matmul(a, nb.tensor([1, -1]));
    expect(c.shape).toEqual([3]);
    expect(c.tolist()).toEqual([-1, -1, -1]);
  });

  it("gives a scalar for two vectors", () => {
    const c = nb.matmul(nb.tensor([1, 2, 3]), nb.tensor([4, 5, 6]));
    expect(c.shape).toEqual([]);
    expect(c.item()).toBe(32);
  });

  it("broadcasts batch axes", () => {
    const batch = nb.stack([a, nb.mul(a, 2)]); // [2, 3, 2]
    const c = nb.matmul(batch, b);
    expect(c.shape).toEqual([2, 3, 3]);
    expect((c.tolist() as number[][][])[1]).toEqual([[2, 4, 16], [6, 8, 36], [10, 12, 56]]);

    const left = nb.ones([4, 1, 3, 2]);
    const right = nb.ones([5, 2, 7]);
    expect(nb.matmul(left, right).shape).toEqual([4, 5, 3, 7]);
    expect(nb.matmul(nb.ones([2]), nb.ones([4, 2, 3])).shape).toEqual([4, 3]);
    expect(nb.matmul(nb.ones([4, 3, 2]), nb.ones([2])).shape).toEqual([4, 3]);
  });

  it("handles size-0 contraction and outputs", () => {
    expect(nb.matmul(nb.ones([2, 0]), nb.ones([0, 3])).tolist()).toEqual([[0, 0, 0], [0, 0, 0]]);
    expect(nb.matmul(nb.ones([0, 2]), nb.ones([2, 3])).shape).toEqual([0, 3]);
  });

  it("multiplies int32 exactly and promotes mixed dtypes", () => {
    const i = nb.tensor([[2, 3]], { dtype: "int32" });
    const c = nb.matmul(i, nb.tensor([[4], [5]], { dtype: "int32" }));
    expect(c.dtype).toBe("int32");
    expect(c.item()).toBe(23);
    expect(nb.matmul(i, nb.tensor([[0.5], [1]], { dtype: "float64" })).dtype).toBe("float64");
  });

  it("rejects scalars and mismatched inner dimensions", () => {
    expect(() => nb.matmul(nb.tensor(2), a)).toThrow(nb.ShapeError);
    expect(() => nb.matmul(a, a)).toThrow(/\[3, 2\] @ \[3, 2\]/);
    expect(() => nb.matmul(nb.ones([2, 3, 2]), nb.ones([3, 2, 2]))).toThrow(nb.ShapeError);
  });
});

describe("outer", () => {
  it("multiplies every pair", () => {
    const c = nb.outer(nb.tensor([1, 2, 3]), nb.tensor([10, 20]));
    expect(c.tolist()).toEqual([[10, 20], [20, 40], [30, 60]]);
    expect(() => nb.outer(a, nb.tensor([1]))).toThrow(nb.ShapeError);
  });
});
