// Shared test helpers: seeded random data, a device memory, the reference evaluation of elementwise IR.

import { DeviceMemory } from "../../../src/runtime/device/memory.js";
import { castStorage, map1, map2, map3 } from "../../../src/runtime/reference/elementwise.js";
import { stridedCopy } from "../../../src/runtime/reference/layout.js";
import { erf, sigmoid } from "../../../src/runtime/reference/math.js";
import { allocate, sizeOf, type Storage, type StorageDType } from "../../../src/runtime/storage.js";
import { dtypeOf, type ElementwiseSpec, type Expr } from "../../../src/runtime/wasm/elementwise/ir.js";

export const sizes = [1, 3, 4, 5, 17, 64, 129, 257];

/** mulberry32: a small seeded generator, so every failure reproduces. */
export function rng(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Random values of `dtype`: floats in [-scale, scale], ints in [-50, 50], bools 0/1. */
export function randomStorage(random: () => number, dtype: StorageDType, size: number, scale = 3): Storage {
  const out = allocate(dtype, size);
  for (let i = 0; i < size; i++) {
    const u = random();
    out[i] = dtype === "bool" ? (u < 0.5 ? 1 : 0) : dtype === "int32" ? Math.floor(u * 101) - 50 : (2 * u - 1) * scale;
  }
  return out;
}

export function newDevice(): DeviceMemory {
  return new DeviceMemory({ device: "test:0", initialBytes: 1 << 20, capacityBytes: 1 << 30 });
}

const unaryRef: Record<string, (x: number) => number> = {
  neg: (x) => -x, abs: Math.abs, sign: Math.sign, exp: Math.exp, log: Math.log, log1p: Math.log1p, sqrt: Math.sqrt,
  rsqrt: (x) => 1 / Math.sqrt(x), sin: Math.sin, cos: Math.cos, tanh: Math.tanh, sigmoid, erf,
  relu: (x) => (x > 0 || Number.isNaN(x) ? x : 0),
};

const binaryRef: Record<string, (x: number, y: number) => number> = {
  add: (x, y) => x + y, sub: (x, y) => x - y, div: (x, y) => x / y, pow: Math.pow,
  max: (x, y) => (Number.isNaN(x) || Number.isNaN(y) ? NaN : Math.max(x, y)),
  min: (x, y) => (Number.isNaN(x) || Number.isNaN(y) ? NaN : Math.min(x, y)),
  equal: (x, y) => +(x === y), notEqual: (x, y) => +(x !== y), less: (x, y) => +(x < y), lessEqual: (x, y) => +(x <= y),
  greater: (x, y) => +(x > y), greaterEqual: (x, y) => +(x >= y),
  logicalAnd: (x, y) => +(x !== 0 && y !== 0), logicalOr: (x, y) => +(x !== 0 || y !== 0),
};

/** Evaluates the outputs of `spec` with the reference kernels, rounding to each node's dtype as the reference ops do. */
export function referenceElementwise(spec: ElementwiseSpec, inputs: readonly Storage[]): Storage[] {
  const size = sizeOf(spec.shape);
  const memo = new Map<Expr, Storage>();
  const evaluate = (e: Expr): Storage => {
    const known = memo.get(e);
    if (known !== undefined) return known;
    const dtype = dtypeOf(e, spec.inputs);
    let out: Storage;
    switch (e.kind) {
      case "input":
        out = stridedCopy(inputs[e.index], spec.shape, spec.inputs[e.index].strides, 0, dtype);
        break;
      case "const":
        out = allocate(dtype, size).fill(e.value);
        break;
      case "unary":
        out = e.op === "logicalNot" ? map1(evaluate(e.x), "bool", (x) => +(x === 0)) : map1(evaluate(e.x), dtype, unaryRef[e.op]);
        break;
      case "binary": {
        const mul = dtype === "int32" ? Math.imul : (x: number, y: number) => x * y;
        out = map2(evaluate(e.a), evaluate(e.b), dtype, e.op === "mul" ? mul : binaryRef[e.op]);
        break;
      }
      case "where":
        out = map3(evaluate(e.cond), evaluate(e.a), evaluate(e.b), dtype, (m, x, y) => (m !== 0 ? x : y));
        break;
      case "cast":
        out = castStorage(evaluate(e.x), e.dtype);
        break;
    }
    memo.set(e, out);
    return out;
  };
  return spec.outputs.map(evaluate);
}

/** Distance in units in the last place of float32 between two values (0 when both are NaN or equal). */
export function ulpDistance32(a: number, b: number): number {
  if (Number.isNaN(a) || Number.isNaN(b)) return Number.isNaN(a) && Number.isNaN(b) ? 0 : Infinity;
  if (a === b) return 0;
  const ia = orderedBits(a);
  const ib = orderedBits(b);
  return Math.abs(ia - ib);
}

const bits = new Int32Array(1);
const floats = new Float32Array(bits.buffer);

function orderedBits(x: number): number {
  floats[0] = x;
  return bits[0] < 0 ? -(bits[0] & 0x7fffffff) : bits[0];
}

/** Largest ulp distance between two float32 storages. */
export function maxUlp32(actual: Storage, expected: Storage): number {
  let max = 0;
  for (let i = 0; i < expected.length; i++) max = Math.max(max, ulpDistance32(actual[i], expected[i]));
  return max;
}
