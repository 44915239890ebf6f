// Creating tensors: nested arrays, typed arrays, dtypes, int64 narrowing and the formula constructors.

import { describe, expect, it } from "vitest";
import * as nb from "../../src/index.js";

describe("tensor from nested arrays", () => {
  it("infers shape and float32 from numbers", () => {
    const t = nb.tensor([[1, 2, 3], [4, 5, 6]]);
    expect(t.shape).toEqual([2, 3]);
    expect(t.dtype).toBe("float32");
    expect(t.ndim).toBe(2);
    expect(t.numel()).toBe(6);
    expect(t.tolist()).toEqual([[1, 2, 3], [4, 5, 6]]);
  });

  it("infers bool from booleans and keeps scalars rank 0", () => {
    const b = nb.tensor([true, false]);
    expect(b.dtype).toBe("bool");
    expect(b.tolist()).toEqual([true, false]);
    const s = nb.tensor(2.5);
    expect(s.shape).toEqual([]);
    expect(s.ndim).toBe(0);
    expect(s.item()).toBe(2.5);
    expect(s.tolist()).toBe(2.5);
    expect(nb.tensor(true).tolist()).toBe(true);
  });

  it("honours a requested dtype", () => {
    expect(nb.tensor([1.9, -1.9], { dtype: "int32" }).tolist()).toEqual([1, -1]);
    expect(nb.tensor([0, 3], { dtype: "bool" }).tolist()).toEqual([false, true]);
    const d = nb.tensor([0.1], { dtype: "float64" });
    expect(d.dtype).toBe("float64");
    expect(d.item()).toBe(0.1);
    expect(nb.tensor([0.1]).item()).toBe(Math.fround(0.1));
  });

  it("handles empty arrays", () => {
    expect(nb.tensor([]).shape).toEqual([0]);
    expect(nb.tensor([[], []]).shape).toEqual([2, 0]);
    expect(nb.tensor([]).tolist()).toEqual([]);
  });

  it("rejects ragged nesting with the path in the message", () => {
    expect(() => nb.tensor([[1, 2], [3]])).toThrow(nb.ShapeError);
    expect(() => nb.tensor([[1, 2], [3]])).toThrow(/data\[1\]/);
    expect(() => nb.tensor([[1, 2], 3] as never)).toThrow(nb.ShapeError);
    expect(() => nb.tensor([1, [2]] as never)).toThrow(nb.ShapeError);
  });

  it("rejects unknown dtypes and non-numeric elements", () => {
    expect(() => nb.tensor([1], { dtype: "float16" as never })).toThrow(nb.DTypeError);
    expect(() => nb.tensor(["a"] as never)).toThrow(nb.ValueError);
  });
});

describe("tensor from typed arrays", () => {
  it("takes the dtype from the array class", () => {
    expect(nb.tensor(new Float64Array([1, 2])).dtype).toBe("float64");
    expect(nb.tensor(new Float32Array([1, 2])).dtype).toBe("float32");
    expect(nb.tensor(new Int32Array([1, 2])).dtype).toBe("int32");
    expect(nb.tensor(new Int16Array([-3])).tolist()).toEqual([-3]);
    expect(nb.tensor(new Uint8Array([255])).tolist()).toEqual([255]);
  });

  it("copies the data", () => {
    const data = new Float32Array([1, 2]);
    const t = nb.tensor(data);
    data[0] = 9;
    expect(t.tolist()).toEqual([1, 2]);
  });

  it("takes a shape for flat data", () => {
    const t = nb.tensor(new Float32Array([1, 2, 3, 4, 5, 6]), { shape: [3, 2] });
    expect(t.tolist()).toEqual([[1, 2], [3, 4], [5, 6]]);
    expect(nb.tensor([1, 2, 3, 4], { shape: [2, 2] }).tolist()).toEqual([[1, 2], [3, 4]]);
    expect(nb.tensor([7], { shape: [] }).shape).toEqual([]);
  });

  it("rejects a shape that does not match the element count", () => {
    expect(() => nb.tensor(new Float32Array(5), { shape: [2, 3] })).toThrow(nb.ShapeError);
    expect(() => nb.tensor(new Float32Array(5), { shape: [2, 3] })).toThrow(/\[2, 3\]/);
    expect(() => nb.tensor([1, 2], { shape: [-2, -1] })).toThrow(nb.ShapeError);
  });
});

describe("int64 narrowing", () => {
  it("narrows BigInt64Array to int32", () => {
    const t = nb.tensor(new BigInt64Array([1n, -2n, 2147483647n]));
    expect(t.dtype).toBe("int32");
    expect(t.tolist()).toEqual([1, -2, 2147483647]);
  });

  it("names the first out-of-range value and its index", () => {
    const data = new BigInt64Array([0n, 5n, 2147483648n, -9999999999n]);
    expect(() => nb.tensor(data)).toThrow(nb.DTypeError);
    expect(() => nb.tensor(data)).toThrow(/2147483648 at index 2/);
  });

  it("narrows numbers and bigints with dtype int64", () => {
    expect(nb.tensor([1, 2], { dtype: "int64" }).dtype).toBe("int32");
    expect(nb.tensor([[3n], [-4n]]).tolist()).toEqual([[3], [-4]]);
    expect(() => nb.tensor([1, -2147483649], { dtype: "int64" })).toThrow(/-2147483649 at index 1/);
    expect(() => nb.tensor([[0n, 1n], [2n ** 40n, 0n]])).toThrow(/1099511627776 at index 2/);
  });

  it("rejects NaN and infinities as int64 with a DTypeError", () => {
    expect(() => nb.tensor([1, NaN], { dtype: "int64" })).toThrow(nb.DTypeError);
    expect(() => nb.tensor([1, NaN], { dtype: "int64" })).toThrow(/NaN at index 1/);
    expect(() => nb.tensor([Infinity], { dtype: "int64" })).toThrow(/Infinity at index 0/);
  });
});

describe("formula constructors", () => {
  it("zeros, ones and full", () => {
    expect(nb.zeros([2, 3]).tolist()).toEqual([[0, 0, 0], [0, 0, 0]]);
    expect(nb.ones([3], { dtype: "int32" }).tolist()).toEqual([1, 1, 1]);
    expect(nb.ones([3], { dtype: "int32" }).dtype).toBe("int32");
    expect(nb.full([2], 7.5).tolist()).toEqual([7.5, 7.5]);
    expect(nb.full([2], true).dtype).toBe("bool");
    expect(nb.zeros([]).shape).toEqual([]);
    expect(nb.zeros([0, 4]).numel()).toBe(0);
    expect(() => nb.zeros([2, 1.5])).toThrow(nb.ShapeError);
  });

  it("zerosLike and onesLike copy shape and dtype", () => {
    const x = nb.tensor([[1, 2]], { dtype: "float64" });
    const z = nb.zerosLike(x);
    expect(z.shape).toEqual([1, 2]);
    expect(z.dtype).toBe("float64");
    expect(z.tolist()).toEqual([[0, 0]]);
    expect(nb.onesLike(x, { dtype: "int32" }).dtype).toBe("int32");
    expect(nb.onesLike(x).tolist()).toEqual([[1, 1]]);
  });

  it("arange with one, two and three arguments", () => {
    expect(nb.arange(5).tolist()).toEqual([0, 1, 2, 3, 4]);
    expect(nb.arange(5).dtype).toBe("int32");
    expect(nb.arange(2, 5).tolist()).toEqual([2, 3, 4]);
    expect(nb.arange(5, 0, -2).tolist()).toEqual([5, 3, 1]);
    expect(nb.arange(0, 1, 0.25).tolist()).toEqual([0, 0.25, 0.5, 0.75]);
    expect(nb.arange(0, 1, 0.25).dtype).toBe("float32");
    expect(nb.arange(3, 3).shape).toEqual([0]);
    expect(nb.arange(0, 3, 1, { dtype: "float64" }).dtype).toBe("float64");
    expect(() => nb.arange(0, 5, 0)).toThrow(nb.ValueError);
  });

  it("linspace includes both ends", () => {
    expect(nb.linspace(0, 1, 5).tolist()).toEqual([0, 0.25, 0.5, 0.75, 1]);
    expect(nb.linspace(2, 3, 1).tolist()).toEqual([2]);
    expect(nb.linspace(0, 1, 0).shape).toEqual([0]);
    expect(nb.linspace(-1, 1, 3, { dtype: "float64" }).tolist()).toEqual([-1, 0, 1]);
    expect(() => nb.linspace(0, 1, -1)).toThrow(nb.ValueError);
  });

  it("eye for square and rectangular shapes", () => {
    expect(nb.eye(3).tolist()).toEqual([[1, 0, 0], [0, 1, 0], [0, 0, 1]]);
    expect(nb.eye(2, 3).tolist()).toEqual([[1, 0, 0], [0, 1, 0]]);
    expect(nb.eye(3, 2, { dtype: "int32" }).tolist()).toEqual([[1, 0], [0, 1], [0, 0]]);
  });
});

describe("reading values", () => {
  it("item needs exactly one element", () => {
    expect(nb.tensor([[4]]).item()).toBe(4);
    expect(nb.tensor([true]).item()).toBe(1);
    expect(() => nb.tensor([1, 2]).item()).toThrow(nb.ValueError);
    expect(() => nb.tensor([1, 2]).item()).toThrow(/\[2\]/);
  });

  it("toArray returns a copy of the matching typed array", () => {
    const t = nb.tensor([1, 2], { dtype: "int32" });
    const a = t.toArray();
    expect(a).toBeInstanceOf(Int32Array);
    a[0] = 100;
    expect(t.tolist()).toEqual([1, 2]);
    expect(nb.tensor([true]).toArray()).toBeInstanceOf(Uint8Array);
    expect(nb.tensor([1], { dtype: "float64" }).toArray()).toBeInstanceOf(Float64Array);
  });

  it("toString prints values and dtype", () => {
    expect(nb.tensor([1, 2.5]).toString()).toBe("tensor([1.0000, 2.5000], dtype=float32)");
    expect(nb.tensor([[1, 2], [3, 4]], { dtype: "int32" }).toString()).toBe("tensor([[1, 2],\n        [3, 4]], dtype=int32)");
    expect(nb.tensor([true, false]).toString()).toBe("tensor([true, false], dtype=bool)");
    expect(nb.tensor([NaN, Infinity, -Infinity, 1e-7]).toString()).toBe("tensor([nan, inf, -inf, 1.0000e-7], dtype=float32)");
    expect(nb.tensor(3, { dtype: "int32" }).toString()).toBe("tensor(3, dtype=int32)");
  });

  it("toString summarizes large tensors", () => {
    const text = nb.arange(2000).toString();
    expect(text).toBe("tensor([0, 1, 2, ..., 1997, 1998, 1999], dtype=int32)");
  });
});
