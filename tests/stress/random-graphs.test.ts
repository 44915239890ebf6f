// Random graphs of ops, run eagerly and compiled on the wasm backend and compared with the reference
// backend. STRESS_ITERATIONS sets how many graphs (30 by default; `npm run test:stress` runs more).

import { describe, expect, test } from "vitest";
import * as nb from "../../src/index.js";
import type { Tensor } from "../../src/index.js";
import { onBackend } from "../support/backends.js";
import { Rng } from "../support/random.js";

const iterations = Number(process.env.STRESS_ITERATIONS ?? 30);
const sizes = [1, 2, 3, 4, 5, 7, 17];

type Builder = (rng: Rng, x: Tensor) => Tensor;

function pick<T>(rng: Rng, items: readonly T[]): T {
  return items[rng.int(0, items.length)];
}

/** One random step from a tensor to a tensor; every step keeps values finite for inputs in about [-3, 3]. */
const steps: readonly Builder[] = [
  (_, x) => nb.tanh(x),
  (_, x) => nb.sigmoid(x.mul(1.3)),
  (rng, x) => x.mul(rng.uniform(-2, 2)).add(rng.uniform(-1, 1)),
  (_, x) => nb.relu(x).sub(0.25),
  (_, x) => nb.exp(nb.clip(x, -3, 3)).mul(0.3),
  (_, x) => nb.sqrt(nb.abs(x).add(0.1)),
  (rng, x) => (x.ndim > 0 ? nb.sum(x, { axis: rng.int(0, x.ndim), keepdims: true }).mul(0.2).add(x) : x),
  (rng, x) => (x.ndim > 0 ? nb.max(x, { axis: rng.int(0, x.ndim), keepdims: true }).sub(x) : x),
  (rng, x) => (x.ndim > 0 ? nb.softmax(x, rng.int(0, x.ndim)) : x),
  (_, x) => (x.ndim >= 2 ? x.T.mul(0.5) : x),
  (rng, x) => (x.ndim > 0 ? nb.flip(x, rng.int(0, x.ndim)) : x),
  (rng, x) => {
    if (x.ndim === 0) return x;
    const axis = rng.int(0, x.ndim);
    const n = x.shape[axis];
    return nb.slice(x, x.shape.map((_, i) => (i === axis ? [0, n, Math.max(1, Math.floor(n / 2))] : null)));
  },
  (rng, x) => {
    if (x.ndim < 1) return x;
    const k = x.shape[x.ndim - 1];
    const w = nb.random.normal([k, pick(rng, sizes)], { key: nb.random.key(rng.int(0, 1000)) }).mul(1 / Math.sqrt(k));
    return nb.matmul(x, w);
  },
  (_, x) => nb.concat([x, x.mul(-1)], 0),
  (_, x) => nb.pad(x, x.shape.map(() => [1, 0] as [number, number]), 0.5),
];

function randomShape(rng: Rng): number[] {
  return Array.from({ length: rng.int(1, 4) }, () => pick(rng, sizes));
}

/** Builds a random graph from a seed: the same seed always gives the same ops and inputs. */
function buildGraph(seed: number): (x: Tensor) => Tensor {
  return (x) => {
    const rng = new Rng(seed);
    let y = x;
    for (let i = 0, n = rng.int(2, 7); i < n; i++) y = pick(rng, steps)(rng, y);
    return nb.mean(y.mul(y));
  };
}

function inputFor(seed: number): Tensor {
  const rng = new Rng(seed + 1);
  const shape = randomShape(rng);
  return nb.random.uniform(shape, { key: nb.random.key(seed), low: -2, high: 2 });
}

function valueAndGradient(seed: number): number[] {
  const f = buildGraph(seed);
  const [value, gradient] = nb.valueAndGrad(f)(inputFor(seed)) as [Tensor, Tensor];
  return [value.item(), ...Array.from(gradient.toArray())];
}

function close(actual: readonly number[], expected: readonly number[]): boolean {
  return actual.length === expected.length && actual.every((v, i) => Math.abs(v - expected[i]) <= 1e-4 * (1 + Math.abs(expected[i])));
}

describe("random graphs", () => {
  test("wasm matches reference, eager and compiled", () => {
    const failures: string[] = [];
    for (let seed = 1; seed <= iterations; seed++) {
      const expected = onBackend("reference", () => valueAndGradient(seed));
      const eager = onBackend("wasm", () => valueAndGradient(seed));
      const compiled = onBackend("wasm", () => {
        const step = nb.compile((x: Tensor) => nb.valueAndGrad(buildGraph(seed))(x));
        const [value, gradient] = step(inputFor(seed)) as [Tensor, Tensor];
        return [value.item(), ...Array.from(gradient.toArray())];
      });
      if (!close(eager, expected)) failures.push(`seed ${seed}: eager wasm differs`);
      if (!close(compiled, expected)) failures.push(`seed ${seed}: compiled wasm differs`);
    }
    expect(failures).toEqual([]);
  });

  test("device memory returns to its start", () => {
    const before = onBackend("wasm", () => nb.deviceMemoryStats().bytesInUse);
    onBackend("wasm", () => {
      for (let seed = 1; seed <= Math.min(iterations, 20); seed++) valueAndGradient(seed);
    });
    expect(onBackend("wasm", () => nb.deviceMemoryStats().bytesInUse)).toBe(before);
  });
});
