// Measures the float32 vector math against float64 on samples spanning the float32 range.

import { erf, sigmoid } from "../../../src/runtime/reference/math.js";
import { input, unary, type UnaryOp } from "../../../src/runtime/wasm/elementwise/ir.js";
import { elementwiseKernel } from "../../../src/runtime/wasm/elementwise/kernel.js";
import { newDevice, rng, ulpDistance32 } from "./helpers.js";

const device = newDevice();
const count = 1 << 18;

/** Float32 samples with random sign, exponent and mantissa, so tiny, denormal and huge values all appear. */
function samples(seed: number): Float32Array {
  const random = rng(seed);
  const bits = new Uint32Array(count);
  for (let i = 0; i < count; i++) bits[i] = (random() * 4294967296) >>> 0;
  const out = new Float32Array(bits.buffer);
  const specials = [NaN, Infinity, -Infinity, 0, -0, 1e-45, -1e-45, 1.17549435e-38, 88.72, -87.3, 89, -104, 3.92, -3.92, 0.625, 1];
  out.set(specials);
  // Replace NaN bit patterns outside the first few slots with dense values in [-10, 10], where most of the interesting behaviour is.
  for (let i = specials.length; i < count; i++) if (Number.isNaN(out[i]) || i % 2 === 0) out[i] = (random() * 2 - 1) * 10;
  return out;
}

const float64Ref: Record<string, (x: number) => number> = { exp: Math.exp, log: Math.log, log1p: Math.log1p, tanh: Math.tanh, sigmoid, erf };

/** The bounds documented in f32x4.ts. */
export const mathBounds: Record<string, number> = { exp: 1, log: 1, log1p: 2, tanh: 1, sigmoid: 2, erf: 2 };

export function maxMathError(op: UnaryOp, relaxed: boolean): { ulps: number; at: number } {
  const x = samples(11);
  const inOffset = device.upload(x);
  const outOffset = device.alloc(x.byteLength);
  elementwiseKernel({ shape: [count], inputs: [{ dtype: "float32", strides: [1] }], outputs: [unary(op, input(0))] }, { relaxed }).run(device.memory, [inOffset], [outOffset]);
  const y = device.read("float32", outOffset, count);
  device.free(inOffset);
  device.free(outOffset);
  let worst = { ulps: 0, at: 0 };
  for (let i = 0; i < count; i++) {
    const ulps = ulpDistance32(y[i], Math.fround(float64Ref[op](x[i])));
    if (ulps > worst.ulps) worst = { ulps, at: x[i] };
  }
  return worst;
}

