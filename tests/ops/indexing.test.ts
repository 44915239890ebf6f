// Indexing ops: gather, scatterAdd and oneHot.

import { describe, expect, it } from "vitest";
import * as nb from "../../src/index.js";

const table = nb.tensor([
  [0, 1, 2],
  [10, 11, 12],
  [20, 21, 22],
  [30, 31, 32],
]);
const ids = (data: number[] | number[][]): nb.Tensor => nb.tensor(data, { dtype: "int32" });

describe("gather", () => {
  it("takes rows, with duplicates, along axis 0", () => {
    expect(nb.gather(table, ids([3, 0, 3])).tolist()).toEqual([[30, 31, 32], [0, 1, 2], [30, 31, 32]]);
  });

  it("replaces the axis with the indices' shape", () => {
    const out = nb.gather(table, ids([[1, 2], [0, 0]]), 0);
    expect(out.shape).toEqual([2, 2, 3]);
    expect(out.tolist()).toEqual([[[10, 11, 12], [20, 21, 22]], [[0, 1, 2], [0, 1, 2]]]);
  });

  it("gathers columns with a negative axis", () => {
    const out = nb.gather(table, ids([2, 0]), -1);
    expect(out.shape).toEqual([4, 2]);
    expect(out.tolist()).toEqual([[2, 0], [12, 10], [22, 20], [32, 30]]);
    expect(nb.take(table, ids([1]), 1).shape).toEqual([4, 1]);
    expect(table.gather(ids([1]), 0).tolist()).toEqual([[10, 11, 12]]);
  });

  it("accepts scalar and empty index tensors", () => {
    expect(nb.gather(table, ids([]), 0).shape).toEqual([0, 3]);
    expect(nb.gather(table, nb.tensor(2, { dtype: "int32" }), 0).tolist()).toEqual([20, 21, 22]);
  });

  it("rejects float indices", () => {
    expect(() => nb.gather(table, nb.tensor([1]))).toThrow(nb.DTypeError);
  });
});

describe("scatterAdd", () => {
  it("adds updates at indices and accumulates duplicates", () => {
    const out = nb.scatterAdd(nb.zeros([3]), ids([0, 2, 0, 0]), nb.tensor([1, 2, 3, 4]));
    expect(out.tolist()).toEqual([8, 0, 2]);
  });

  it("scatters along axis 1 into a copy of the operand", () => {
    const x = nb.ones([2, 3]);
    const out = nb.scatterAdd(x, ids([2, 2]), nb.tensor([[1, 2], [3, 4]]), 1);
    expect(out.tolist()).toEqual([[1, 1, 4], [1, 1, 8]]);
    expect(x.tolist()).toEqual([[1, 1, 1], [1, 1, 1]]);
  });

  it("keeps the operand's dtype", () => {
    const out = nb.scatterAdd(nb.zeros([2], { dtype: "int32" }), ids([1]), nb.tensor([2.9]));
    expect(out.dtype).toBe("int32");
    expect(out.tolist()).toEqual([0, 2]);
  });

  it("rejects updates of the wrong shape", () => {
    expect(() => nb.scatterAdd(nb.zeros([3, 2]), ids([0]), nb.zeros([2, 2]))).toThrow(nb.ShapeError);
  });

  it("raises IndexError for an index out of range", () => {
    expect(() => nb.scatterAdd(nb.zeros([3]), ids([3]), nb.ones([1])).toArray()).toThrow(nb.IndexError);
  });
});

describe("oneHot", () => {
  it("encodes along a new last axis", () => {
    const out = nb.oneHot(ids([2, 0, 1]), 3);
    expect(out.dtype).toBe("float32");
    expect(out.tolist()).toEqual([[0, 0, 1], [1, 0, 0], [0, 1, 0]]);
  });

  it("keeps the index shape and honours dtype", () => {
    const out = nb.oneHot(ids([[1], [3]]), 4, "int32");
    expect(out.shape).toEqual([2, 1, 4]);
    expect(out.dtype).toBe("int32");
    expect(out.tolist()).toEqual([[[0, 1, 0, 0]], [[0, 0, 0, 1]]]);
  });

  it("rejects an index outside the classes", () => {
    expect(() => nb.oneHot(ids([5]), 3).tolist()).toThrow(nb.IndexError);
  });
});
