// Gradient checks against central finite differences in float64.

import { expect } from "vitest";
import * as nb from "../../src/index.js";
import type { Tensor } from "../../src/index.js";
import { randn, type Rng } from "./random.js";

export type TensorFn = (...xs: Tensor[]) => Tensor;

export interface Tolerance {
  readonly rtol?: number;
  readonly atol?: number;
}

/** Asserts |actual - expected| <= atol + rtol |expected| elementwise, naming the first failing index. */
export function expectClose(actual: ArrayLike<number>, expected: ArrayLike<number>, tolerance: Tolerance = {}, label = "values"): void {
  const { rtol = 1e-6, atol = 1e-8 } = tolerance;
  expect(actual.length, `${label}: length`).toBe(expected.length);
  for (let i = 0; i < expected.length; i++) {
    const bound = atol + rtol * Math.abs(expected[i]);
    const error = Math.abs(actual[i] - expected[i]);
    if (!(error <= bound)) {
      expect.fail(`${label}[${i}]: got ${actual[i]}, expected ${expected[i]} (error ${error.toExponential(2)} > ${bound.toExponential(2)})`);
    }
  }
}

function values(t: Tensor): Float64Array {
  return Float64Array.from(t.toArray());
}

function dot(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i] * b[i];
  return s;
}

/** `x` with element `index` moved by `delta`, as a new float tensor of the same dtype. */
function nudged(x: Tensor, index: number, delta: number): Tensor {
  const data = x.toArray() as Float64Array | Float32Array;
  data[index] += delta;
  return nb.tensor(data, { shape: x.shape });
}

/** `x + scale * t` elementwise, realized as a new leaf. */
function shifted(x: Tensor, t: Tensor, scale: number): Tensor {
  const data = x.toArray() as Float64Array | Float32Array;
  const direction = t.toArray();
  for (let i = 0; i < data.length; i++) data[i] += scale * direction[i];
  return nb.tensor(data, { shape: x.shape });
}

/** (f(x + eps t) - f(x - eps t)) / 2 eps: the directional derivative of `f` at `xs` along `ts`. */
export function numericJvp(f: TensorFn, xs: readonly Tensor[], ts: readonly Tensor[], eps = 1e-6): Float64Array {
  const plus = values(f(...xs.map((x, i) => shifted(x, ts[i], eps))));
  const minus = values(f(...xs.map((x, i) => shifted(x, ts[i], -eps))));
  return plus.map((p, j) => (p - minus[j]) / (2 * eps));
}

/** u^T J for each input, one central difference per input element. */
export function numericVjp(f: TensorFn, xs: readonly Tensor[], u: Tensor, eps = 1e-6): Float64Array[] {
  const cotangent = values(u);
  return xs.map((x, i) => {
    const out = new Float64Array(x.numel());
    for (let j = 0; j < out.length; j++) {
      const at = (delta: number): number => dot(cotangent, values(f(...xs.map((y, k) => (k === i ? nudged(y, j, delta) : y)))));
      out[j] = (at(eps) - at(-eps)) / (2 * eps);
    }
    return out;
  });
}

export interface GradCheckOptions extends Tolerance {
  readonly eps?: number;
}

/**
 * Checks the VJP of `f` (with a random cotangent) and its JVP (with random tangents) at `xs` against
 * central finite differences. `f` must be differentiable in every argument.
 */
export function checkGradients(f: TensorFn, xs: readonly Tensor[], rng: Rng, options: GradCheckOptions = {}): void {
  const { eps = 1e-6, rtol = 1e-5, atol = 1e-7 } = options;
  const out = f(...xs);
  const u = nb.cast(randn(rng, out.shape), out.dtype);

  const [, pull] = nb.vjp(f, ...xs);
  const analytic = pull(u) as Tensor[];
  const numeric = numericVjp(f, xs, u, eps);
  analytic.forEach((g, i) => {
    expect(g.shape, `vjp: cotangent ${i} shape`).toEqual(xs[i].shape);
    expectClose(values(g), numeric[i], { rtol, atol }, `vjp input ${i}`);
  });

  const ts = xs.map((x) => nb.cast(randn(rng, x.shape), x.dtype));
  const [, tangentOut] = nb.jvp(f, xs, ts);
  expect(tangentOut.shape, "jvp: tangent shape").toEqual(out.shape);
  expectClose(values(tangentOut), numericJvp(f, xs, ts, eps), { rtol, atol }, "jvp");
}
