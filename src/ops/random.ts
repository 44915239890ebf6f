// Public random numbers: explicit counter-based keys (JAX style) and a global seed (PyTorch style).

import { bind } from "../core/bind.js";
import { fromStorage } from "../core/creation.js";
import { floatTypeFor, type DType } from "../core/dtype.js";
import { checkShape } from "../core/shape.js";
import { Tensor } from "../core/tensor.js";
import { ValueError } from "../runtime/errors.js";
import { threefry2x32 } from "../runtime/reference/random.js";
import { add, cast, less, mul } from "./elementwise.js";
import { reshapeTo } from "./lift.js";
import { slice } from "./layout.js";

/** Makes a key from an integer seed: an int32 tensor of shape [2] holding the seed's high and low 32 bits. */
export function key(seed: number): Tensor {
  if (!Number.isSafeInteger(seed)) throw new ValueError(`random.key: seed must be a safe integer, got ${seed}`);
  const words = seedWords(seed);
  return fromStorage(Int32Array.from(words), [2], "int32");
}

function seedWords(seed: number): [number, number] {
  const high = Math.floor(seed / 2 ** 32);
  return [high | 0, (seed - high * 2 ** 32) | 0];
}

/** Splits a key into `num` new independent keys. */
export function split(parent: Tensor, num = 2): Tensor[] {
  if (!Number.isInteger(num) || num < 1) throw new ValueError(`random.split: num must be a positive integer, got ${num}`);
  const words = bind("randomBits", [parent], { shape: [num * 2] });
  return Array.from({ length: num }, (_, i) => reshapeTo(slice(words, [[2 * i, 2 * i + 2, 1]]), [2]));
}

// The global generator for calls without a key; advanced on the host, so it never enters a graph.
let globalKey: [number, number] = [0, 0];

/** Seeds the global generator used by random functions called without a key, like `torch.manual_seed`. */
export function seed(value: number): void {
  if (!Number.isSafeInteger(value)) throw new ValueError(`random.seed: seed must be a safe integer, got ${value}`);
  globalKey = seedWords(value);
}

/** Returns the global generator's state as two int32 words, for checkpoints. */
export function getState(): [number, number] {
  return [...globalKey];
}

export function setState(state: readonly [number, number]): void {
  globalKey = [state[0] | 0, state[1] | 0];
}

// While compile traces a function, draws from the global generator derive from a key that is an
// input of the traced program, so every call of the compiled function gets fresh numbers.
let traced: { key: Tensor; draws: number } | undefined;

/** Runs `fn` with global draws derived from `key`; returns the result and how many draws it made. */
export function withTracedKey<T>(key: Tensor, fn: () => T): { result: T; draws: number } {
  const previous = traced;
  traced = { key, draws: 0 };
  try {
    const result = fn();
    return { result, draws: traced.draws };
  } finally {
    traced = previous;
  }
}

/** Draw i of a traced function: words 2i and 2i+1 of the counter stream of the traced key. */
function tracedDraw(context: { key: Tensor; draws: number }): Tensor {
  const i = context.draws++;
  const words = bind("randomBits", [context.key], { shape: [2 * i + 2] });
  return reshapeTo(slice(words, [[2 * i, 2 * i + 2, 1]]), [2]);
}

/** Returns the global generator's current key as a tensor, without advancing it. */
export function globalKeyTensor(): Tensor {
  return fromStorage(Int32Array.from(globalKey), [2], "int32");
}

/** Draws a fresh key from the global generator and advances it. */
export function nextKey(): Tensor {
  if (traced !== undefined) return tracedDraw(traced);
  const [k0, k1] = globalKey;
  const next = threefry2x32(k0, k1, 0, 0);
  const sub = threefry2x32(k0, k1, 0, 1);
  globalKey = [next[0] | 0, next[1] | 0];
  return fromStorage(Int32Array.from([sub[0] | 0, sub[1] | 0]), [2], "int32");
}

export interface RandomOptions {
  /** Key to draw from; the global generator when omitted. */
  readonly key?: Tensor;
  readonly dtype?: DType;
}

function keyOf(options: RandomOptions): Tensor {
  return options.key ?? nextKey();
}

/** Samples from N(mean, std^2). */
export function normal(shape: readonly number[], options: RandomOptions & { mean?: number; std?: number } = {}): Tensor {
  checkShape("random.normal", shape);
  const dtype = floatTypeFor(options.dtype ?? "float32");
  const z = bind("randomNormal", [keyOf(options)], { shape: [...shape], dtype });
  const { mean = 0, std = 1 } = options;
  return mean === 0 && std === 1 ? z : add(mul(z, std), mean);
}

/** Samples uniformly from [low, high). */
export function uniform(shape: readonly number[], options: RandomOptions & { low?: number; high?: number } = {}): Tensor {
  checkShape("random.uniform", shape);
  const dtype = floatTypeFor(options.dtype ?? "float32");
  const u = bind("randomUniform", [keyOf(options)], { shape: [...shape], dtype });
  const { low = 0, high = 1 } = options;
  return low === 0 && high === 1 ? u : add(mul(u, high - low), low);
}

/**
 * Integers uniform in [low, high) as int32.
 * NOTE: draws use 24 random bits, so ranges wider than 2^24 are not uniform.
 */
export function randint(shape: readonly number[], low: number, high: number, options: RandomOptions = {}): Tensor {
  if (!Number.isInteger(low) || !Number.isInteger(high) || high <= low) {
    throw new ValueError(
      `random.randint: need integers low < high, got low=${JSON.stringify(low)} high=${JSON.stringify(high)}; ` +
        "call it as randint(shape, low, high, { key })",
    );
  }
  const u = uniform(shape, { key: keyOf(options), dtype: "float64" });
  // u * (high - low) is non-negative, so truncation toward zero is the floor.
  return add(cast(mul(u, high - low), "int32"), low);
}

/** True with probability `p` (a number or a tensor broadcast to `shape`), as JAX's `bernoulli`. */
export function bernoulli(p: number | Tensor, shape?: readonly number[], options: RandomOptions = {}): Tensor {
  const target = shape ?? (p instanceof Tensor ? p.shape : []);
  return less(uniform(target, { key: keyOf(options) }), p);
}
