// Vectorised float32 transcendentals, emitted inline. Each takes a v128 local of four float32 lanes
// and returns a new local; NaN propagates and +-Infinity map as Math.* does.
//
// Maximum errors against float64 Math (and the reference erf and sigmoid) rounded to float32:
// exp 1 ulp, log 1 ulp, log1p 2 ulp, tanh 1 ulp, sigmoid 2 ulp, erf 2 ulp. tests/runtime/wasm/math.test.ts
// measures them on 2^18 samples that span the float32 range, with denormals and specials.
// The test asserts these bounds; sampling cannot prove them for every input.

import type { CodeBuilder, Local } from "../emitter/code.js";
import { binary, f32x4Const, i32x4Const, keep, multiplyAdd, polynomial, select } from "./vector.js";

const log2e = 1.4426950408889634;
/** ln 2 split so that n * ln2High is exact for |n| < 2^14 (Cody and Waite reduction). */
const ln2High = 0.693359375;
const ln2Low = -2.12194440e-4;

/** Minimax-style coefficients of (e^r - 1 - r) / r^2 on |r| <= ln2/2, lowest degree first (Cephes expf). */
const expCoefficients = [5.0000001201e-1, 1.6666665459e-1, 4.1665795894e-2, 8.3334519073e-3, 1.3981999507e-3, 1.98756915e-4];

/** Coefficients of (log(1+f) - f + f^2/2) / f^3 on f in [sqrt(1/2)-1, sqrt(2)-1], lowest first (Cephes logf). */
const logCoefficients = [
  3.3333331174e-1, -2.4999993993e-1, 2.0000714765e-1, -1.6668057665e-1, 1.4249322787e-1, -1.2420140846e-1,
  1.1676998740e-1, -1.1514610310e-1, 7.0376836292e-2,
];

/** Coefficients of (tanh(x) - x) / x^3 in z = x^2 for |x| < 0.625 (Cephes tanhf). */
const tanhCoefficients = [-3.33332819422e-1, 1.33314422036e-1, -5.37397155531e-2, 2.06390887954e-2, -5.70498872745e-3];

/** erf(x)/x as a polynomial in x^2 on [0, 1]: a float64 least-squares fit of relative error at Chebyshev nodes. */
const erfSmallCoefficients = [
  1.128379225730896, -0.3761262893676758, 0.11283612251281738, -0.026854807510972023, 0.005190051626414061,
  -0.0008024335256777704, 7.898139301687479e-5,
];

/** erfc(x) e^(x^2) as a polynomial in 1/x on [1, 3.92], fitted the same way. */
const erfLargeCoefficients = [
  1.228592445841059e-4, 0.5617417693138123, 0.02069692127406597, -0.3763979375362396, 0.23142598569393158,
  0.23721051216125488, -0.5363973379135132, 0.4383300840854645, -0.17993192374706268, 0.030782654881477356,
];

/** Beyond this |x|, erf(x) rounds to +-1 in float32. */
const erfSaturation = 3.92;

const signMask = -0x80000000;

/** 1.5 * 2^23: adding it to |v| < 2^22 rounds v to an integer held in the low mantissa bits. */
const roundingMagic = 12582912;

export function emitExp(c: CodeBuilder, x: Local, relaxed: boolean): Local {
  // Clamping keeps 2^n representable as two factors; e^89 still overflows to Infinity and e^-104 to 0.
  // pmax(x, lo) = x < lo ? lo : x and pmin(x, hi) = hi < x ? hi : x keep NaN, and unlike f32x4.max and
  // f32x4.min they are single instructions on x64.
  c.get(x);
  f32x4Const(c, -104).simd("f32x4.pmax");
  f32x4Const(c, 89).simd("f32x4.pmin");
  const xc = keep(c, "xc");
  // Adding 1.5 * 2^23 rounds x log2(e) to the nearest integer n and leaves n in the low mantissa bits.
  c.get(xc);
  f32x4Const(c, log2e).simd("f32x4.mul");
  f32x4Const(c, roundingMagic).simd("f32x4.add");
  const shifted = keep(c, "shifted");
  c.get(shifted);
  f32x4Const(c, roundingMagic).simd("f32x4.sub");
  const n = keep(c, "n");
  c.get(xc).get(n);
  f32x4Const(c, ln2High).simd("f32x4.mul").simd("f32x4.sub");
  c.get(n);
  f32x4Const(c, ln2Low).simd("f32x4.mul").simd("f32x4.sub");
  const r = keep(c, "r");

  const p = polynomial(c, relaxed, r, expCoefficients);
  const r2 = binary(c, "f32x4.mul", r, r, "r2");
  multiplyAdd(c, relaxed, () => c.get(p), () => c.get(r2), () => c.get(r));
  f32x4Const(c, 1).simd("f32x4.add");
  const y = keep(c, "y");

  // 2^n as 2^h * 2^(n-h) with h = n >> 1, so n in [-150, 128] needs no exponent outside [-75, 64].
  c.get(shifted);
  f32x4Const(c, roundingMagic).simd("i32x4.sub");
  const ni = keep(c, "ni");
  c.get(ni).i32(1).simd("i32x4.shr_s");
  const h = keep(c, "h");
  c.get(y).get(h);
  emitPowerOfTwo(c);
  c.simd("f32x4.mul");
  c.get(ni).get(h).simd("i32x4.sub");
  emitPowerOfTwo(c);
  c.simd("f32x4.mul");
  return keep(c, "exp");
}

/** Replaces integer lanes e (in [-126, 127]) on the stack with the float32 lanes 2^e. */
function emitPowerOfTwo(c: CodeBuilder): void {
  i32x4Const(c, 127).simd("i32x4.add").i32(23).simd("i32x4.shl");
}

export function emitLog(c: CodeBuilder, x: Local, relaxed: boolean): Local {
  // Denormal inputs are scaled by 2^23 first so the exponent field is meaningful.
  c.get(x);
  f32x4Const(c, 1.17549435e-38).simd("f32x4.lt");
  const tiny = keep(c, "tiny");
  select(c, tiny, () => c.get(x).v128(f32Bytes(8388608)).simd("f32x4.mul"), () => c.get(x));
  const bits = keep(c, "bits");

  c.get(bits).i32(23).simd("i32x4.shr_u");
  i32x4Const(c, 127).simd("i32x4.sub");
  select(c, tiny, () => i32x4Const(c, 23), () => i32x4Const(c, 0));
  c.simd("i32x4.sub");
  const e = keep(c, "e");
  c.get(bits);
  i32x4Const(c, 0x007fffff).simd("v128.and");
  i32x4Const(c, 0x3f800000).simd("v128.or");
  const m = keep(c, "m");

  // Bring the mantissa into [sqrt(1/2), sqrt(2)) so f = m - 1 is small.
  c.get(m);
  f32x4Const(c, Math.SQRT2).simd("f32x4.gt");
  const big = keep(c, "big");
  select(c, big, () => c.get(m).v128(f32Bytes(0.5)).simd("f32x4.mul"), () => c.get(m));
  f32x4Const(c, 1).simd("f32x4.sub");
  const f = keep(c, "f");
  c.get(e).get(big).simd("i32x4.sub").simd("f32x4.convert_i32x4_s");
  const ef = keep(c, "ef");

  const z = binary(c, "f32x4.mul", f, f, "z");
  const p = polynomial(c, relaxed, f, logCoefficients);
  c.get(p).get(f).simd("f32x4.mul").get(z).simd("f32x4.mul");
  c.get(ef);
  f32x4Const(c, ln2Low).simd("f32x4.mul").simd("f32x4.add");
  c.get(z);
  f32x4Const(c, -0.5).simd("f32x4.mul").simd("f32x4.add");
  c.get(f).simd("f32x4.add");
  c.get(ef);
  f32x4Const(c, ln2High).simd("f32x4.mul").simd("f32x4.add");
  const r = keep(c, "log");
  return fixLogSpecials(c, x, r);
}

/** log(+Inf) = +Inf, log(+-0) = -Inf, log(x < 0) = NaN, log(NaN) = NaN. */
function fixLogSpecials(c: CodeBuilder, x: Local, r: Local): Local {
  const cases: [number, "f32x4.eq" | "f32x4.lt", number][] = [
    [Infinity, "f32x4.eq", Infinity],
    [0, "f32x4.eq", -Infinity],
    [0, "f32x4.lt", NaN],
  ];
  for (const [threshold, compare, value] of cases) {
    c.get(x);
    f32x4Const(c, threshold).simd(compare);
    const mask = keep(c, "special");
    select(c, mask, () => f32x4Const(c, value), () => c.get(r));
    c.set(r);
  }
  c.get(x).get(x).simd("f32x4.ne");
  const nan = keep(c, "nan");
  select(c, nan, () => c.get(x), () => c.get(r));
  c.set(r);
  return r;
}

/** log1p(x) = log(u) * x / (u - 1) with u = 1 + x, which cancels the rounding error of u (Goldberg). */
export function emitLog1p(c: CodeBuilder, x: Local, relaxed: boolean): Local {
  c.get(x);
  f32x4Const(c, 1).simd("f32x4.add");
  const u = keep(c, "u");
  const lu = emitLog(c, u, relaxed);
  c.get(lu).get(x).get(u);
  f32x4Const(c, 1).simd("f32x4.sub").simd("f32x4.div").simd("f32x4.mul");
  const r = keep(c, "log1p");
  c.get(u);
  f32x4Const(c, 1).simd("f32x4.eq");
  const exact = keep(c, "exact");
  select(c, exact, () => c.get(x), () => c.get(r));
  c.set(r);
  c.get(x);
  f32x4Const(c, Infinity).simd("f32x4.eq");
  const inf = keep(c, "inf");
  select(c, inf, () => c.get(x), () => c.get(r));
  c.set(r);
  return r;
}

export function emitTanh(c: CodeBuilder, x: Local, relaxed: boolean): Local {
  c.get(x).simd("f32x4.abs");
  const ax = keep(c, "ax");
  const z = binary(c, "f32x4.mul", ax, ax, "z");
  const p = polynomial(c, relaxed, z, tanhCoefficients);
  c.get(p).get(z).simd("f32x4.mul").get(ax).simd("f32x4.mul").get(ax).simd("f32x4.add");
  const small = keep(c, "small");

  // 1 - 2/(e^(2|x|) + 1); e^(2|x|) overflows to Infinity for large |x|, giving exactly 1.
  c.get(ax).get(ax).simd("f32x4.add");
  const twice = keep(c, "twice");
  const e = emitExp(c, twice, relaxed);
  f32x4Const(c, 1);
  f32x4Const(c, 2);
  c.get(e);
  f32x4Const(c, 1).simd("f32x4.add").simd("f32x4.div").simd("f32x4.sub");
  const large = keep(c, "large");

  c.get(ax);
  f32x4Const(c, 0.625).simd("f32x4.lt");
  const useSmall = keep(c, "useSmall");
  select(c, useSmall, () => c.get(small), () => c.get(large));
  return copySign(c, x);
}

/** Ors the sign bit of `x` into the non-negative lanes on the stack and keeps the result. */
function copySign(c: CodeBuilder, x: Local): Local {
  c.get(x);
  i32x4Const(c, signMask).simd("v128.and").simd("v128.or");
  return keep(c, "signed");
}

/** sigmoid(x) = e/(1+e) for x < 0 and 1/(1+e) otherwise, with e = exp(-|x|) <= 1 so nothing overflows. */
export function emitSigmoid(c: CodeBuilder, x: Local, relaxed: boolean): Local {
  c.get(x).simd("f32x4.abs").simd("f32x4.neg");
  const negAbs = keep(c, "negAbs");
  const e = emitExp(c, negAbs, relaxed);
  c.get(x);
  f32x4Const(c, 0).simd("f32x4.lt");
  const negative = keep(c, "negative");
  select(c, negative, () => c.get(e), () => f32x4Const(c, 1));
  c.get(e);
  f32x4Const(c, 1).simd("f32x4.add").simd("f32x4.div");
  return keep(c, "sigmoid");
}

export function emitErf(c: CodeBuilder, x: Local, relaxed: boolean): Local {
  c.get(x).simd("f32x4.abs");
  const ax = keep(c, "ax");
  const z = binary(c, "f32x4.mul", ax, ax, "z");
  const ps = polynomial(c, relaxed, z, erfSmallCoefficients);
  const small = binary(c, "f32x4.mul", ps, ax, "small");

  // 1 - e^(-x^2) Q(1/x), where Q(t) approximates erfc(x) e^(x^2), smooth on [1, 3.92].
  f32x4Const(c, 1).get(ax).simd("f32x4.div");
  const t = keep(c, "t");
  const q = polynomial(c, relaxed, t, erfLargeCoefficients);
  c.get(z).simd("f32x4.neg");
  const negZ = keep(c, "negZ");
  const e = emitExp(c, negZ, relaxed);
  f32x4Const(c, 1).get(e).get(q).simd("f32x4.mul").simd("f32x4.sub");
  const large = keep(c, "large");

  c.get(ax);
  f32x4Const(c, 1).simd("f32x4.lt");
  const useSmall = keep(c, "useSmall");
  select(c, useSmall, () => c.get(small), () => c.get(large));
  const r = keep(c, "erf");
  c.get(ax);
  f32x4Const(c, erfSaturation).simd("f32x4.ge");
  const saturated = keep(c, "saturated");
  select(c, saturated, () => f32x4Const(c, 1), () => c.get(r));
  return copySign(c, x);
}

function f32Bytes(value: number): number[] {
  return [...new Uint8Array(new Float32Array([value, value, value, value]).buffer)];
}
