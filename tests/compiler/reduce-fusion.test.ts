// Elementwise chains fused into the reductions they feed: the wasm backend must agree with the reference
// backend on values and gradients, and a reduce of a pending expression must run as one kernel.

import { afterEach, describe, expect, test } from "vitest";
import * as nb from "../../src/index.js";
import type { Tensor } from "../../src/index.js";
import { expectClose } from "../support/finite-differences.js";
import { Rng } from "../support/random.js";
import { launchesDuring, onBackend, onBoth } from "../support/backends.js";

type Backend = "wasm" | "reference";
type FloatDType = "float32" | "float64";

// float32 results of different kernels and summation orders; the wasm transcendentals are within 2 ulp.
const f32 = { rtol: 2e-5, atol: 2e-6 };
const f32Gradient = { rtol: 1e-4, atol: 1e-5 };
const f64 = { rtol: 1e-12, atol: 1e-13 };
const sizes = [1, 3, 5, 17, 129];

function randn(rng: Rng, shape: readonly number[], dtype: FloatDType = "float32"): Tensor {
  const length = shape.reduce((a, b) => a * b, 1);
  const values = Array.from({ length }, () => rng.normal());
  return nb.tensor(dtype === "float32" ? Float32Array.from(values) : Float64Array.from(values), { shape: [...shape] });
}

function toArrays(...tensors: Tensor[]): Float64Array[] {
  return tensors.map((t) => Float64Array.from(t.toArray()));
}

/** Value of f(x) and its gradient with respect to x, pulled back from `weights`. */
function valueAndGradient(f: (x: Tensor) => Tensor, x: Tensor, weights: Tensor): Float64Array[] {
  const [value, pull] = nb.vjp(f, x);
  const [g] = pull(weights) as Tensor[];
  return toArrays(value as Tensor, g);
}

/** sum(square(x - mean(x))) / n over `axis`, written out so the centering is a pending expression. */
function meanSquaredDeviation(x: Tensor, axis: number): Tensor {
  const centered = nb.sub(x, nb.mean(x, { axis, keepdims: true }));
  return nb.mean(nb.square(centered), axis);
}

afterEach(() => {
  nb.setBackend(undefined);
});

describe("reduce fusion values and gradients", () => {
  for (const dtype of ["float32", "float64"] as const) {
    const tolerance = dtype === "float32" ? f32 : f64;
    const gradientTolerance = dtype === "float32" ? f32Gradient : f64;

    for (const size of sizes) {
      test(`logsumexp ${dtype} rows of ${size}`, () => {
        const run = (rng: Rng): Float64Array[] => {
          const x = randn(rng, [7, size], dtype);
          return valueAndGradient((t) => nb.logsumexp(t, 1), x, randn(rng, [7], dtype));
        };
        const { wasm, reference } = onBoth(run);
        expectClose(wasm[0], reference[0], tolerance, "values");
        expectClose(wasm[1], reference[1], gradientTolerance, "gradient");
      });

      test(`squared deviation ${dtype} over ${size} rows`, () => {
        const run = (rng: Rng): Float64Array[] => {
          const x = randn(rng, [size, 6], dtype);
          return valueAndGradient((t) => meanSquaredDeviation(t, 0), x, randn(rng, [6], dtype));
        };
        const { wasm, reference } = onBoth(run);
        expectClose(wasm[0], reference[0], tolerance, "values");
        expectClose(wasm[1], reference[1], gradientTolerance, "gradient");
      });
    }
  }

  for (const axis of [0, 1, [0, 1]] as const) {
    test(`sum of products with a transposed operand, axis ${JSON.stringify(axis)}`, () => {
      const run = (rng: Rng): Float64Array[] => {
        const a = randn(rng, [17, 5]);
        const b = randn(rng, [5, 17]);
        const f = (t: Tensor): Tensor => nb.sum(nb.mul(t, nb.transpose(b)), axis as number | number[]);
        const out = f(a);
        return valueAndGradient(f, a, nb.onesLike(out));
      };
      const { wasm, reference } = onBoth(run);
      expectClose(wasm[0], reference[0], f32, "values");
      expectClose(wasm[1], reference[1], f32Gradient, "gradient");
    });
  }

  test("layer norm over a 3-D input", () => {
    const run = (rng: Rng): Float64Array[] => {
      const x = randn(rng, [3, 5, 17]);
      const gamma = randn(rng, [17]);
      const layerNorm = (t: Tensor): Tensor => {
        const mu = nb.mean(t, { axis: -1, keepdims: true });
        const centered = nb.sub(t, mu);
        const variance = nb.mean(nb.square(centered), { axis: -1, keepdims: true });
        return nb.mul(nb.div(centered, nb.sqrt(nb.add(variance, 1e-5))), gamma);
      };
      return valueAndGradient(layerNorm, x, randn(rng, [3, 5, 17]));
    };
    const { wasm, reference } = onBoth(run);
    expectClose(wasm[0], reference[0], f32, "values");
    expectClose(wasm[1], reference[1], f32Gradient, "gradient");
  });

  test("max and min of expressions propagate NaN and Infinity", () => {
    const run = (rng: Rng): Float64Array[] => {
      const data = Float32Array.from({ length: 5 * 33 }, () => rng.normal());
      data[7] = NaN;
      data[40] = Infinity;
      data[80] = -Infinity;
      const x = nb.tensor(data, { shape: [5, 33] });
      const y = randn(rng, [33]);
      const shifted = (): Tensor => nb.add(nb.mul(x, 2), y);
      return toArrays(nb.max(shifted(), 1), nb.min(shifted(), 1), nb.max(shifted(), 0), nb.sum(shifted(), 1));
    };
    const { wasm, reference } = onBoth(run);
    wasm.forEach((values, k) => {
      reference[k].forEach((v, i) => {
        if (!Number.isFinite(v)) expect(values[i], `result ${k} at ${i}`).toBe(v);
      });
      expectClose(values.map((v) => (Number.isFinite(v) ? v : 0)), reference[k].map((v) => (Number.isFinite(v) ? v : 0)), f32, `result ${k}`);
    });
  });

  for (const axis of [0, 1]) {
    test(`flipped operands reduced over axis ${axis}`, () => {
      const run = (rng: Rng): Float64Array[] => {
        const x = randn(rng, [5, 17]);
        const y = randn(rng, [5, 17]);
        return toArrays(nb.sum(nb.mul(nb.flip(x, 1), y), axis), nb.max(nb.flip(x, [0, 1]), axis), nb.sum(nb.flip(x, axis), axis));
      };
      const { wasm, reference } = onBoth(run);
      wasm.forEach((values, k) => expectClose(values, reference[k], f32, `result ${k}`));
    });
  }

  test("broadcast operands along kept and reduced axes", () => {
    const run = (rng: Rng): Float64Array[] => {
      const x = randn(rng, [4, 5, 9]);
      const row = randn(rng, [1, 5, 1]);
      const column = randn(rng, [9]);
      const f = (t: Tensor): Tensor => nb.sum(nb.tanh(nb.add(nb.mul(t, row), column)), [0, 2]);
      return valueAndGradient(f, x, randn(rng, [5]));
    };
    const { wasm, reference } = onBoth(run);
    expectClose(wasm[0], reference[0], f32, "values");
    expectClose(wasm[1], reference[1], f32Gradient, "gradient");
  });
});

describe("reduce fusion launches", () => {
  test("exp of a shift runs inside the sum", () => {
    const x = randn(new Rng(3), [7, 17]);
    const launches = launchesDuring(() => void nb.sum(nb.exp(nb.sub(x, nb.max(x, { axis: 1, keepdims: true }))), 1).toArray());
    expect(launches.get("elementwise+reduce sum")).toBe(1);
    expect(launches.get("reduce max")).toBe(1);
    expect(launches.get("elementwise")).toBeUndefined();
  });

  test("product with a transposed operand is one kernel", () => {
    const rng = new Rng(4);
    const [a, b] = [randn(rng, [17, 5]), randn(rng, [5, 17])];
    const launches = launchesDuring(() => void nb.sum(nb.mul(a, nb.transpose(b)), 0).toArray());
    expect([...launches]).toEqual([["elementwise+reduce sum", 1]]);
  });

  test("a transposed view is reduced in place", () => {
    const x = randn(new Rng(5), [5, 17]);
    const launches = launchesDuring(() => void nb.sum(nb.transpose(x), 1).toArray());
    expect([...launches]).toEqual([["reduce sum", 1]]);
    const { wasm, reference } = onBoth(() => toArrays(nb.sum(nb.transpose(x), 1)));
    expectClose(wasm[0], reference[0], f32, "values");
  });

  test("an expression with another use is written once", () => {
    const x = randn(new Rng(6), [9, 17]);
    const run = (): Float64Array[] => {
      const e = nb.exp(x);
      return toArrays(nb.sum(e, 1), nb.mul(e, 2));
    };
    const launches = launchesDuring(() => void run());
    expect(launches.get("elementwise+reduce sum")).toBeUndefined();
    expect(launches.get("reduce sum")).toBe(1);
    const { wasm, reference } = onBoth(run);
    expectClose(wasm[0], reference[0], f32, "sum");
    expectClose(wasm[1], reference[1], f32, "doubled");
  });

  test("an expression returned with its sum is written once", () => {
    const x = randn(new Rng(7), [9, 17]);
    const run = (): Float64Array[] => {
      const f = nb.compile((t: Tensor) => {
        const e = nb.exp(t);
        return [e, nb.sum(e, 1)];
      });
      return toArrays(...(f(x) as Tensor[]));
    };
    const launches = launchesDuring(() => void run());
    expect(launches.get("elementwise")).toBe(1);
    expect(launches.get("reduce sum")).toBe(1);
    const { wasm, reference } = onBoth(run);
    expectClose(wasm[0], reference[0], f32, "expression");
    expectClose(wasm[1], reference[1], f32, "sum");
  });
});
