// Seeded test inputs: a small deterministic generator and float64 tensors drawn from it.

import { tensor, type Tensor } from "../../src/index.js";

/** Mulberry32: a 32-bit generator that is fast, seedable and good enough for test data. */
export class Rng {
  #state: number;

  constructor(seed: number) {
    this.#state = seed >>> 0;
  }

  /** Returns a float in [0, 1). */
  next(): number {
    this.#state = (this.#state + 0x6d2b79f5) >>> 0;
    let t = this.#state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }

  uniform(low: number, high: number): number {
    return low + (high - low) * this.next();
  }

  /** Returns a standard normal sample (Box-Muller). */
  normal(): number {
    const u = 1 - this.next();
    return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * this.next());
  }

  /** Returns an integer in [low, high). */
  int(low: number, high: number): number {
    return low + Math.floor(this.next() * (high - low));
  }
}

function count(shape: readonly number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

/** Standard normal float64 tensor. */
export function randn(rng: Rng, shape: readonly number[]): Tensor {
  const data = Float64Array.from({ length: count(shape) }, () => rng.normal());
  return tensor(data, { shape });
}

/** Float64 tensor uniform in [low, high). */
export function randu(rng: Rng, shape: readonly number[], low: number, high: number): Tensor {
  const data = Float64Array.from({ length: count(shape) }, () => rng.uniform(low, high));
  return tensor(data, { shape });
}

/** Float64 tensor with |x| in [margin, margin + 1.5) and a random sign, for ops with a kink at 0. */
export function awayFromZero(rng: Rng, shape: readonly number[], margin = 0.2): Tensor {
  const data = Float64Array.from({ length: count(shape) }, () => (rng.next() < 0.5 ? -1 : 1) * rng.uniform(margin, margin + 1.5));
  return tensor(data, { shape });
}

/** Random bool tensor. */
export function randBool(rng: Rng, shape: readonly number[]): Tensor {
  return tensor(Array.from({ length: count(shape) }, () => rng.next() < 0.5), { shape });
}
