// Small f32x4/i32x4 building blocks shared by the vector math and the kernel generators.

import type { CodeBuilder, Local } from "../emitter/code.js";
import type { SimdOp } from "../emitter/opcodes.js";

/** Pushes a v128 constant with `value` in all four float32 lanes. */
export function f32x4Const(c: CodeBuilder, value: number): CodeBuilder {
  return c.v128([...new Uint8Array(new Float32Array([value, value, value, value]).buffer)]);
}

/** Pushes a v128 constant with `value` in all four int32 lanes. */
export function i32x4Const(c: CodeBuilder, value: number): CodeBuilder {
  return c.v128([...new Uint8Array(new Int32Array([value, value, value, value]).buffer)]);
}

/** Pushes a v128 constant with `value` in both float64 lanes. */
export function f64x2Const(c: CodeBuilder, value: number): CodeBuilder {
  return c.v128([...new Uint8Array(new Float64Array([value, value]).buffer)]);
}

/** Pops the top of the stack into a fresh v128 local and returns it. */
export function keep(c: CodeBuilder, name = "v"): Local {
  const local = c.local("v128", name);
  c.set(local);
  return local;
}

/** Applies a binary SIMD op to two locals and keeps the result. */
export function binary(c: CodeBuilder, op: SimdOp, a: Local, b: Local, name = "v"): Local {
  c.get(a).get(b).simd(op);
  return keep(c, name);
}

/** Pushes a*b + acc, as one relaxed_madd when `relaxed` is set (rounding once or twice, as the engine chooses). */
export function multiplyAdd(c: CodeBuilder, relaxed: boolean, pushA: () => void, pushB: () => void, pushAcc: () => void): void {
  if (relaxed) {
    pushA();
    pushB();
    pushAcc();
    c.simd("f32x4.relaxed_madd");
    return;
  }
  pushA();
  pushB();
  c.simd("f32x4.mul");
  pushAcc();
  c.simd("f32x4.add");
}

/** Evaluates sum_i coefficients[i] * t^i by Horner's rule and keeps the result. */
export function polynomial(c: CodeBuilder, relaxed: boolean, t: Local, coefficients: readonly number[]): Local {
  const acc = c.local("v128", "poly");
  f32x4Const(c, coefficients[coefficients.length - 1]).set(acc);
  for (let i = coefficients.length - 2; i >= 0; i--) {
    multiplyAdd(c, relaxed, () => c.get(acc), () => c.get(t), () => f32x4Const(c, coefficients[i]));
    c.set(acc);
  }
  return acc;
}

/** Pushes bitselect(ifTrue, ifFalse, mask): lanes of `ifTrue` where the mask bits are set. */
export function select(c: CodeBuilder, mask: Local, ifTrue: () => void, ifFalse: () => void): void {
  ifTrue();
  ifFalse();
  c.get(mask);
  c.simd("v128.bitselect");
}
