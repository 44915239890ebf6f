// Layout ops: reshape, transpose, slicing, split, squeeze, pad, flip, concat, stack.

import { describe, expect, it } from "vitest";
import * as nb from "../../src/index.js";

const m = nb.arange(12).reshape([3, 4]);

describe("reshape", () => {
  it("infers one -1 dimension", () => {
    expect(nb.reshape(m, [2, -1]).shape).toEqual([2, 6]);
    expect(nb.reshape(m, [-1]).tolist()).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11]);
    expect(nb.reshape(nb.zeros([0, 3]), [-1, 3]).shape).toEqual([0, 3]);
    expect(nb.reshape(nb.tensor([5]), []).shape).toEqual([]);
  });

  it("rejects bad shapes", () => {
    expect(() => nb.reshape(m, [5, -1])).toThrow(nb.ShapeError);
    expect(() => nb.reshape(m, [-1, -1])).toThrow(/more than one -1/);
    expect(() => nb.reshape(m, [3, 5])).toThrow(/\[3, 4\]/);
  });

  it("flatten gives one axis", () => {
    expect(nb.flatten(m).shape).toEqual([12]);
  });
});

describe("transpose and permute", () => {
  it("reverses axes by default", () => {
    const t = nb.transpose(m);
    expect(t.shape).toEqual([4, 3]);
    expect(t.tolist()).toEqual([[0, 4, 8], [1, 5, 9], [2, 6, 10], [3, 7, 11]]);
    expect(m.T.tolist()).toEqual(t.tolist());
  });

  it("permutes with negative axes", () => {
    const x = nb.arange(24).reshape([2, 3, 4]);
    const p = nb.permute(x, [-1, 0, 1]);
    expect(p.shape).toEqual([4, 2, 3]);
    // p[i, j, k] = x[j, k, i]
    expect((p.tolist() as number[][][])[3][1][2]).toBe(1 * 12 + 2 * 4 + 3);
    expect(nb.swapAxes(x, 0, -1).shape).toEqual([4, 3, 2]);
  });

  it("rejects a non-permutation", () => {
    expect(() => nb.transpose(m, [0, 0])).toThrow(nb.ValueError);
    expect(() => nb.transpose(m, [0, 2])).toThrow(nb.IndexError);
  });
});

describe("slice", () => {
  const v = nb.arange(7);

  it("follows Python slicing with negative indices and steps", () => {
    expect(nb.slice(v, [[1, 5]]).tolist()).toEqual([1, 2, 3, 4]);
    expect(nb.slice(v, [[-3, null]]).tolist()).toEqual([4, 5, 6]);
    expect(nb.slice(v, [[null, null, 2]]).tolist()).toEqual([0, 2, 4, 6]);
    expect(nb.slice(v, [[null, null, -1]]).tolist()).toEqual([6, 5, 4, 3, 2, 1, 0]);
    expect(nb.slice(v, [[5, 1, -2]]).tolist()).toEqual([5, 3]);
    expect(nb.slice(v, [[-1, -8, -3]]).tolist()).toEqual([6, 3, 0]);
    expect(nb.slice(v, [{ start: 2, step: 3 }]).tolist()).toEqual([2, 5]);
  });

  it("clamps out-of-range bounds and gives empty results", () => {
    expect(nb.slice(v, [[5, 100]]).tolist()).toEqual([5, 6]);
    expect(nb.slice(v, [[4, 2]]).shape).toEqual([0]);
    expect(nb.slice(v, [[2, 4, -1]]).shape).toEqual([0]);
    expect(nb.slice(v, [[-100, 2]]).tolist()).toEqual([0, 1]);
  });

  it("slices several axes, leaving later axes whole", () => {
    const s = nb.slice(m, [[null, null, -1], [1, 3]]);
    expect(s.tolist()).toEqual([[9, 10], [5, 6], [1, 2]]);
    expect(nb.slice(m, [[1, 2]]).tolist()).toEqual([[4, 5, 6, 7]]);
    expect(nb.slice(m, [null, [null, null, -2]]).tolist()).toEqual([[3, 1], [7, 5], [11, 9]]);
  });

  it("rejects step 0 and too many entries", () => {
    expect(() => nb.slice(v, [[0, 3, 0]])).toThrow(nb.ValueError);
    expect(() => nb.slice(v, [null, null])).toThrow(nb.IndexError);
  });

  it("sliceTensor takes a block", () => {
    expect(nb.sliceTensor(m, { start: [1, 1], size: [2, 2] }).tolist()).toEqual([[5, 6], [9, 10]]);
    expect(() => nb.sliceTensor(m, { start: [2, 0], size: [2, 1] })).toThrow(nb.IndexError);
  });
});

describe("split, squeeze, unsqueeze", () => {
  it("splits by sizes and by section size", () => {
    const parts = nb.split(m, [1, 3], 1);
    expect(parts.map((p) => p.shape)).toEqual([[3, 1], [3, 3]]);
    expect(parts[1].tolist()).toEqual([[1, 2, 3], [5, 6, 7], [9, 10, 11]]);
    const chunks = nb.split(nb.arange(7), 3);
    expect(chunks.map((c) => c.tolist())).toEqual([[0, 1, 2], [3, 4, 5], [6]]);
    expect(nb.split(m, 2, -2).map((c) => c.shape)).toEqual([[2, 4], [1, 4]]);
    expect(() => nb.split(m, [1, 1], 0)).toThrow(nb.ShapeError);
  });

  it("squeezes all size-1 axes or the listed ones", () => {
    const x = nb.zeros([1, 3, 1, 2]);
    expect(nb.squeeze(x).shape).toEqual([3, 2]);
    expect(nb.squeeze(x, 2).shape).toEqual([1, 3, 2]);
    expect(nb.squeeze(x, [-4, 1]).shape).toEqual([3, 1, 2]);
  });

  it("unsqueezes at negative axes counted in the result", () => {
    const x = nb.zeros([3, 2]);
    expect(nb.unsqueeze(x, 0).shape).toEqual([1, 3, 2]);
    expect(nb.unsqueeze(x, -1).shape).toEqual([3, 2, 1]);
    expect(nb.expandDims(x, 1).shape).toEqual([3, 1, 2]);
    expect(() => nb.unsqueeze(x, 3)).toThrow(nb.IndexError);
  });
});

describe("pad, flip, concat, stack", () => {
  it("pads with a constant", () => {
    const p = nb.pad(nb.tensor([[1, 2]]), [[1, 0], [2, 1]], 9);
    expect(p.tolist()).toEqual([[9, 9, 9, 9, 9], [9, 9, 1, 2, 9]]);
    expect(nb.pad(nb.zeros([0]), [[1, 1]]).tolist()).toEqual([0, 0]);
    expect(() => nb.pad(m, [[1, 1]])).toThrow(nb.ShapeError);
    expect(() => nb.pad(m, [[-1, 0], [0, 0]])).toThrow(nb.ValueError);
  });

  it("flips one, several or all axes", () => {
    expect(nb.flip(m, 0).tolist()).toEqual([[8, 9, 10, 11], [4, 5, 6, 7], [0, 1, 2, 3]]);
    expect(nb.flip(m, -1).tolist()).toEqual([[3, 2, 1, 0], [7, 6, 5, 4], [11, 10, 9, 8]]);
    expect(nb.flip(m).tolist()).toEqual([[11, 10, 9, 8], [7, 6, 5, 4], [3, 2, 1, 0]]);
  });

  it("concatenates along an axis and promotes dtypes", () => {
    const a = nb.tensor([[1, 2]], { dtype: "int32" });
    const b = nb.tensor([[3.5, 4]]);
    const c = nb.concat([a, b], 0);
    expect(c.dtype).toBe("float32");
    expect(c.tolist()).toEqual([[1, 2], [3.5, 4]]);
    expect(nb.concat([a, a, a], -1).tolist()).toEqual([[1, 2, 1, 2, 1, 2]]);
    expect(nb.concat([nb.zeros([0, 2]), a], 0).tolist()).toEqual([[1, 2]]);
    expect(() => nb.concat([a, nb.zeros([1, 3])], 0)).toThrow(nb.ShapeError);
  });

  it("stacks along a new axis", () => {
    const a = nb.tensor([1, 2, 3]);
    const b = nb.tensor([4, 5, 6]);
    expect(nb.stack([a, b]).tolist()).toEqual([[1, 2, 3], [4, 5, 6]]);
    expect(nb.stack([a, b], -1).tolist()).toEqual([[1, 4], [2, 5], [3, 6]]);
    expect(() => nb.stack([a, nb.zeros([2])])).toThrow(nb.ShapeError);
  });

  it("broadcastTo expands size-1 and leading axes", () => {
    const b = nb.broadcastTo(nb.tensor([[1], [2]]), [3, 2, 2]);
    expect(b.tolist()).toEqual([[[1, 1], [2, 2]], [[1, 1], [2, 2]], [[1, 1], [2, 2]]]);
    expect(() => nb.broadcastTo(nb.tensor([1, 2]), [3])).toThrow(nb.ShapeError);
  });
});
