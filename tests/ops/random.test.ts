// Random numbers: Threefry known-answer vectors, key semantics, distributions and the global seed.

import { describe, expect, it } from "vitest";
import * as nb from "../../src/index.js";
import { threefry2x32 } from "../../src/runtime/reference/random.js";

function stats(values: ArrayLike<number>): { mean: number; std: number } {
  let sum = 0;
  for (let i = 0; i < values.length; i++) sum += values[i];
  const mean = sum / values.length;
  let sq = 0;
  for (let i = 0; i < values.length; i++) sq += (values[i] - mean) ** 2;
  return { mean, std: Math.sqrt(sq / values.length) };
}

describe("threefry2x32", () => {
  // Known-answer vectors of Threefry-2x32 with 20 rounds from the Random123 distribution (kat_vectors).
  it("matches the zero key and counter vector", () => {
    expect(threefry2x32(0, 0, 0, 0)).toEqual([0x6b200159, 0x99ba4efe]);
  });

  it("matches the all-ones key and counter vector", () => {
    expect(threefry2x32(0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff)).toEqual([0x1cb996fc, 0xbb002be7]);
  });

  it("accepts negative int32 words as their uint32 values", () => {
    expect(threefry2x32(-1, -1, -1, -1)).toEqual([0x1cb996fc, 0xbb002be7]);
  });
});

describe("keys", () => {
  it("gives the same values for the same key", () => {
    const a = nb.random.normal([5], { key: nb.random.key(3) }).toArray();
    const b = nb.random.normal([5], { key: nb.random.key(3) }).toArray();
    expect(a).toEqual(b);
    expect(nb.random.normal([5], { key: nb.random.key(4) }).toArray()).not.toEqual(a);
  });

  it("split keys differ from each other and from the parent", () => {
    const parent = nb.random.key(0);
    const [k1, k2, k3] = nb.random.split(parent, 3);
    const draws = [parent, k1, k2, k3].map((k) => Array.from(nb.random.uniform([4], { key: k }).toArray()));
    for (let i = 0; i < draws.length; i++) {
      for (let j = i + 1; j < draws.length; j++) expect(draws[i]).not.toEqual(draws[j]);
    }
    expect(k1.shape).toEqual([2]);
    expect(k1.dtype).toBe("int32");
  });

  it("split is deterministic", () => {
    const a = nb.random.split(nb.random.key(9)).map((k) => k.tolist());
    const b = nb.random.split(nb.random.key(9)).map((k) => k.tolist());
    expect(a).toEqual(b);
  });

  it("a prefix of a larger draw equals the smaller draw", () => {
    const key = nb.random.key(11);
    const small = nb.random.uniform([3], { key }).toArray();
    const large = nb.random.uniform([7], { key }).toArray();
    expect(Array.from(large.slice(0, 3))).toEqual(Array.from(small));
  });

  it("rejects a malformed key", () => {
    expect(() => nb.random.uniform([2], { key: nb.tensor([1, 2, 3], { dtype: "int32" }) })).toThrow(nb.ValueError);
  });
});

describe("distributions", () => {
  const n = 10_000;

  it("normal has mean 0 and std 1", () => {
    const { mean, std } = stats(nb.random.normal([n], { key: nb.random.key(1), dtype: "float64" }).toArray());
    expect(Math.abs(mean)).toBeLessThan(0.04);
    expect(Math.abs(std - 1)).toBeLessThan(0.03);
  });

  it("normal honours mean and std", () => {
    const { mean, std } = stats(nb.random.normal([n], { key: nb.random.key(2), mean: 3, std: 0.5 }).toArray());
    expect(Math.abs(mean - 3)).toBeLessThan(0.02);
    expect(Math.abs(std - 0.5)).toBeLessThan(0.015);
  });

  it("uniform lies in [0, 1) with mean 1/2 and variance 1/12", () => {
    const u = nb.random.uniform([n], { key: nb.random.key(5) }).toArray();
    expect(Math.min(...u)).toBeGreaterThanOrEqual(0);
    expect(Math.max(...u)).toBeLessThan(1);
    const { mean, std } = stats(u);
    expect(Math.abs(mean - 0.5)).toBeLessThan(0.015);
    expect(Math.abs(std - Math.sqrt(1 / 12))).toBeLessThan(0.01);
  });

  it("uniform honours low and high", () => {
    const u = nb.random.uniform([1000], { key: nb.random.key(6), low: -2, high: -1 }).toArray();
    expect(Math.min(...u)).toBeGreaterThanOrEqual(-2);
    expect(Math.max(...u)).toBeLessThan(-1);
  });

  it("randint covers [low, high) and nothing else", () => {
    const r = nb.random.randint([n], -3, 4, { key: nb.random.key(7) });
    expect(r.dtype).toBe("int32");
    const counts = new Map<number, number>();
    for (const v of r.toArray()) counts.set(v, (counts.get(v) ?? 0) + 1);
    expect([...counts.keys()].sort((p, q) => p - q)).toEqual([-3, -2, -1, 0, 1, 2, 3]);
    for (const c of counts.values()) expect(Math.abs(c / n - 1 / 7)).toBeLessThan(0.02);
    expect(() => nb.random.randint([2], 3, 3)).toThrow(nb.ValueError);
  });

  it("bernoulli hits its rate", () => {
    const b = nb.random.bernoulli(0.3, [n], { key: nb.random.key(8) });
    expect(b.dtype).toBe("bool");
    const rate = nb.mean(nb.cast(b, "float64")).item();
    expect(Math.abs(rate - 0.3)).toBeLessThan(0.02);
  });

  it("bernoulli with a tensor of probabilities", () => {
    const p = nb.tensor([0, 1, 0, 1]);
    expect(nb.random.bernoulli(p, undefined, { key: nb.random.key(1) }).tolist()).toEqual([false, true, false, true]);
  });

  it("draws float64 when asked", () => {
    expect(nb.random.normal([2], { dtype: "float64" }).dtype).toBe("float64");
    expect(nb.random.uniform([2]).dtype).toBe("float32");
  });
});

describe("global seed", () => {
  it("reproduces the same sequence after seeding again", () => {
    nb.random.seed(123);
    const first = [nb.random.normal([4]).toArray(), nb.random.uniform([3]).toArray()];
    nb.random.seed(123);
    const second = [nb.random.normal([4]).toArray(), nb.random.uniform([3]).toArray()];
    expect(second).toEqual(first);
  });

  it("advances between calls and differs across seeds", () => {
    nb.random.seed(1);
    const a = nb.random.uniform([4]).toArray();
    const b = nb.random.uniform([4]).toArray();
    expect(b).not.toEqual(a);
    nb.random.seed(2);
    expect(nb.random.uniform([4]).toArray()).not.toEqual(a);
  });

  it("getState and setState resume a sequence", () => {
    nb.random.seed(77);
    const state = nb.random.getState();
    const a = nb.random.uniform([3]).toArray();
    nb.random.setState(state);
    expect(nb.random.uniform([3]).toArray()).toEqual(a);
  });
});
