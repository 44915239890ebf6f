// Primitives that run on generated kernels rather than their reference implementation: layer norm on
// the row kernels, int32 reductions, and float64 and int32 matmul. The wasm backend must agree with
// the reference backend, and the kernels must run.

import { afterEach, describe, expect, test } from "vitest";
import * as nb from "../../src/index.js";
import type { Tensor } from "../../src/index.js";
import { expectClose } from "../support/finite-differences.js";
import { Rng } from "../support/random.js";
import { launchesDuring, onBackend, onBoth } from "../support/backends.js";

function randn32(rng: Rng, shape: readonly number[], scale = 1, shift = 0): Tensor {
  const data = Float32Array.from({ length: shape.reduce((a, b) => a * b, 1) }, () => shift + scale * rng.normal());
  return nb.tensor(data, { shape: [...shape] });
}

const values = (t: Tensor): Float64Array => Float64Array.from(t.toArray());

afterEach(() => {
  nb.setBackend(undefined);
});

describe("layerNorm on the row kernels", () => {
  /** Output and the gradients of x, weight and bias under a random cotangent. */
  const forwardAndBackward = (shape: readonly number[], shift: number) => (rng: Rng): Float64Array[] => {
    const cols = shape[shape.length - 1];
    const x = randn32(rng, shape, 2, shift);
    const weight = randn32(rng, [cols]);
    const bias = randn32(rng, [cols]);
    const cotangent = randn32(rng, shape);
    const f = (a: Tensor, w: Tensor, b: Tensor): Tensor => nb.nn.functional.layerNorm(a, [cols], w, b);
    const [y, pull] = nb.vjp(f, x, weight, bias);
    return [y, ...(pull(cotangent) as Tensor[])].map(values);
  };

  // cols around the vector width of 4 and a row of many vectors. A mean far from 0 tests the two-pass variance.
  const shapes = [[1, 1], [3, 3], [2, 4], [7, 5], [2, 3, 17], [5, 67]];
  for (const shape of shapes) {
    test(`values and gradients match reference for ${JSON.stringify(shape)}`, () => {
      const { wasm, reference } = onBoth(forwardAndBackward(shape, 3), shape.length * 100 + shape[shape.length - 1]);
      const names = ["y", "dx", "dweight", "dbias"];
      // float32 row sums over at most 67 elements, against float64 sums.
      wasm.forEach((v, i) => expectClose(v, reference[i], { rtol: 1e-4, atol: 1e-4 }, names[i]));
    });
  }

  test("forward and backward run as kernels", () => {
    const counts = launchesDuring(() => void forwardAndBackward([6, 9], 0)(new Rng(3)));
    expect(counts.get("layerNorm")).toBe(1);
    expect(counts.get("layerNormStats")).toBe(1);
    expect(counts.get("layerNormGrad")).toBe(1);
    expect([...counts.keys()].filter((label) => label.startsWith("reference"))).toEqual([]);
  });

  test("NaN and Infinity stay in their rows", () => {
    const run = (): Float64Array => {
      const x = nb.tensor(Float32Array.from([1, NaN, 3, 0.5, 2, 4, Infinity, 1, -1, 0, 1, 2]), { shape: [3, 4] });
      return values(nb.nn.functional.layerNorm(x, [4]));
    };
    const wasm = onBackend("wasm", run);
    const reference = onBackend("reference", run);
    expect(wasm.slice(0, 8).every(Number.isNaN)).toBe(true);
    expect(reference.slice(0, 8).every(Number.isNaN)).toBe(true);
    expectClose(wasm.slice(8), reference.slice(8), { rtol: 1e-5, atol: 1e-5 }, "finite row");
  });

  test("float64 falls back to the reference implementation", () => {
    const run = (rng: Rng): Float64Array => {
      const x = nb.cast(randn32(rng, [4, 6]), "float64");
      return values(nb.nn.functional.layerNorm(x, [6]));
    };
    const counts = launchesDuring(() => void run(new Rng(1)));
    expect(counts.get("reference layerNorm")).toBe(1);
    const { wasm, reference } = onBoth(run, 1);
    expectClose(wasm, reference, { rtol: 1e-12, atol: 1e-12 }, "float64 y");
  });

  test("LayerNorm module trains on both backends alike", () => {
    const run = (rng: Rng): Float64Array[] => {
      const norm = new nb.nn.LayerNorm([2, 5]);
      const x = randn32(rng, [3, 2, 5]);
      const target = randn32(rng, [3, 2, 5]);
      nb.sum(nb.square(nb.sub(norm.call(x), target))).backward();
      return norm.parameters().map((p) => values(p.grad as Tensor));
    };
    const { wasm, reference } = onBoth(run, 9);
    wasm.forEach((g, i) => expectClose(g, reference[i], { rtol: 1e-4, atol: 1e-4 }, `gradient ${i}`));
  });
});

describe("int32 reductions on kernels", () => {
  /** Int32 data with large magnitudes, so that sums and products wrap around. */
  function randInt32(rng: Rng, shape: readonly number[], bound: number): Tensor {
    const data = Int32Array.from({ length: shape.reduce((a, b) => a * b, 1) }, () => rng.int(-bound, bound));
    return nb.tensor(data, { shape: [...shape] });
  }

  const reductions = { sum: nb.sum, prod: nb.prod, max: nb.max, min: nb.min } as const;
  // The last axis reduced or kept, widths around the vector width of 4, axes of size 1, several axes.
  const cases: [number[], number | number[]][] = [
    [[1], 0],
    [[7], 0],
    [[3, 9], 1],
    [[3, 9], 0],
    [[2, 5, 4], [0, 2]],
    [[4, 1, 6], [0, 1]],
    [[2, 3, 1, 13], [1, 3]],
    [[5, 8], [0, 1]],
  ];
  for (const [name, reduceFn] of Object.entries(reductions)) {
    for (const [shape, axis] of cases) {
      test(`${name} over ${JSON.stringify(axis)} of ${JSON.stringify(shape)} matches reference bit for bit`, () => {
        const bound = name === "prod" ? 70000 : 2 ** 30;
        const run = (rng: Rng): number[] => Array.from(reduceFn(randInt32(rng, shape, bound), { axis }).toArray());
        const { wasm, reference } = onBoth(run, shape.length * 31 + shape[0]);
        expect(wasm).toEqual(reference);
      });
    }
  }

  test("sums of bools and keepdims run as kernels", () => {
    const counts = launchesDuring(() => {
      const flags = nb.greater(randn32(new Rng(4), [6, 5]), 0);
      const counted = nb.sum(flags, { axis: 0, keepdims: true });
      expect(counted.shape).toEqual([1, 5]);
      expect(Array.from(counted.toArray()).every((n) => n >= 0 && n <= 6)).toBe(true);
      expect(nb.max(randInt32(new Rng(5), [3, 4], 100), 1).toArray().length).toBe(3);
    });
    expect(counts.get("reduce sum int32")).toBe(1);
    expect(counts.get("reduce max int32")).toBe(1);
    expect([...counts.keys()].filter((label) => label.startsWith("reference"))).toEqual([]);
  });

  test("sum over an empty axis is 0 and prod is 1", () => {
    const run = (): number[][] => [nb.sum(nb.zeros([3, 0], { dtype: "int32" }), 1), nb.prod(nb.zeros([0, 2], { dtype: "int32" }), 0)].map((t) => Array.from(t.toArray()));
    expect(onBackend("wasm", run)).toEqual([[0, 0, 0], [1, 1]]);
    expect(onBackend("reference", run)).toEqual([[0, 0, 0], [1, 1]]);
  });
});

describe("float64 and int32 matmul on kernels", () => {
  function operand(rng: Rng, dtype: "float64" | "int32", shape: readonly number[]): Tensor {
    const count = shape.reduce((a, b) => a * b, 1);
    const data = dtype === "float64" ? Float64Array.from({ length: count }, () => rng.normal()) : Int32Array.from({ length: count }, () => rng.int(-100000, 100000));
    return nb.tensor(data, { shape: [...shape] });
  }

  /** A stored [rows, cols] operand read through a transpose when `transposed` is set. */
  function matrix(rng: Rng, dtype: "float64" | "int32", batch: number[], rows: number, cols: number, transposed: boolean): Tensor {
    return transposed ? nb.swapAxes(operand(rng, dtype, [...batch, cols, rows]), -1, -2) : operand(rng, dtype, [...batch, rows, cols]);
  }

  // n covers the register block (8 float64 or 16 int32 columns), single vectors and scalar columns.
  const sizes: [number, number, number][] = [[1, 1, 1], [3, 5, 7], [4, 9, 17], [2, 1, 33], [6, 3, 2]];
  for (const dtype of ["float64", "int32"] as const) {
    for (const [transA, transB] of [[false, false], [true, false], [false, true], [true, true]]) {
      test(`${dtype} ${transA ? "T" : "N"}${transB ? "T" : "N"} matches reference bit for bit`, () => {
        const run = (rng: Rng): number[][] =>
          sizes.map(([m, k, n]) => Array.from(nb.matmul(matrix(rng, dtype, [2], m, k, transA), matrix(rng, dtype, [2], k, n, transB)).toArray()));
        const { wasm, reference } = onBoth(run, transA ? 7 : 8);
        expect(wasm).toEqual(reference);
      });
    }
  }

  test("broadcast batch and NaN match reference", () => {
    const run = (rng: Rng): number[] => {
      const a = operand(rng, "float64", [3, 4, 5]);
      const b = nb.where(nb.greater(operand(rng, "float64", [5, 9]), 1), NaN, operand(rng, "float64", [5, 9]));
      return Array.from(nb.matmul(a, b).toArray());
    };
    const { wasm, reference } = onBoth(run, 12);
    expect(wasm.some(Number.isNaN)).toBe(true);
    expect(wasm).toEqual(reference);
  });

  test("int32 products wrap around 2^32", () => {
    const run = (): number[] => {
      const a = nb.tensor(Int32Array.from([65536, 3, 2147483647, 1]), { shape: [2, 2] });
      const b = nb.tensor(Int32Array.from([65536, 1, 1, 0]), { shape: [2, 2] });
      return Array.from(nb.matmul(a, b).toArray());
    };
    // [65536 * 65536 + 3, 65536], [2147483647 * 65536 + 1, 2147483647], each modulo 2^32 as int32.
    const expected = [3, 65536, -65535, 2147483647];
    expect(onBackend("wasm", run)).toEqual(expected);
    expect(onBackend("reference", run)).toEqual(expected);
  });

  test("float64 gradients run as kernels and match reference", () => {
    const run = (rng: Rng): number[][] => {
      const a = operand(rng, "float64", [5, 7]);
      const b = operand(rng, "float64", [7, 3]);
      const [, pull] = nb.vjp((x: Tensor, y: Tensor) => nb.matmul(x, y), a, b);
      return (pull(operand(rng, "float64", [5, 3])) as Tensor[]).map((g) => Array.from(g.toArray()));
    };
    const counts = launchesDuring(() => void run(new Rng(2)));
    expect(counts.get("matmul float64")).toBe(2);
    expect([...counts.keys()].filter((label) => label.startsWith("reference"))).toEqual([]);
    const { wasm, reference } = onBoth(run, 2);
    expect(wasm).toEqual(reference);
  });
});
