// Seeded random programs with several inputs for the mesh stress tests: float32 inputs of related
// shapes, an optional bool mask and int32 index input, and a chain of ops over all of them.

import * as nb from "../../src/index.js";
import type { Tensor } from "../../src/index.js";
import type { Aval } from "../../src/core/node.js";
import { Rng, type InputCase } from "../sharding/spmd-support.js";

/** Odd sizes, sizes one above a multiple of 4 (the float32 lanes of a SIMD vector), and sizes below the largest mesh axis (8), so shards are uneven or empty. */
const sizes = [1, 2, 3, 5, 7, 8, 13, 17, 33];

export interface RandomProgram {
  readonly seed: number;
  readonly inputs: readonly InputCase[];
  /** Positions of the float32 inputs; the gradient variant differentiates these. */
  readonly floatInputs: readonly number[];
  /** Applies the program: one or two float32 outputs. */
  readonly forward: (...args: Tensor[]) => Tensor[];
  /** Returns [loss, gradient of every float input]; the loss is a weighted sum of the outputs' mean squares. */
  readonly gradient: (...args: Tensor[]) => unknown;
  /** Names of the ops the last call of forward applied, for failure messages. */
  readonly ops: readonly string[];
}

export function pick<T>(rng: Rng, items: readonly T[]): T {
  return items[rng.int(0, items.length)];
}

function broadcastable(a: readonly number[], b: readonly number[]): boolean {
  for (let i = 1; i <= Math.min(a.length, b.length); i++) {
    const [p, q] = [a[a.length - i], b[b.length - i]];
    if (p !== q && p !== 1 && q !== 1) return false;
  }
  return true;
}

function numel(shape: readonly number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

function float32(shape: readonly number[]): InputCase {
  return { aval: { shape, dtype: "float32" }, domain: { kind: "float" } };
}

/** Returns a shape that combines with `base`: equal, a suffix, some dimensions 1, a matmul right operand or a row vector. */
function partnerShape(rng: Rng, base: readonly number[]): number[] {
  const last = base[base.length - 1];
  const roll = rng.next();
  if (roll < 0.25) return [...base];
  if (roll < 0.45) return base.slice(rng.int(0, base.length));
  if (roll < 0.65) return base.map((d) => (rng.next() < 0.5 ? 1 : d));
  if (roll < 0.9) return [last, pick(rng, sizes)];
  return [last];
}

/** Arguments of a step: the value it transforms, every earlier value, and the mask and index inputs if any. */
interface StepContext {
  readonly rng: Rng;
  readonly x: Tensor;
  readonly pool: readonly Tensor[];
  readonly mask: Tensor | undefined;
  readonly index: { readonly tensor: Tensor; readonly bound: number } | undefined;
}

/** A step returns undefined where it does not apply to `x`; the program then draws another step, and applies tanh after three misses. */
type Step = (context: StepContext) => Tensor | undefined;

function randomAxis(rng: Rng, x: Tensor): number {
  return rng.int(0, x.ndim);
}

/** Returns a value of the pool, other than `x` itself, that broadcasts with `x`, or undefined if there is none. */
function partnerOf({ rng, x, pool }: StepContext): Tensor | undefined {
  const candidates = pool.filter((y) => y !== x && broadcastable(x.shape, y.shape) && numel(y.shape) <= numel(x.shape) * 8);
  return candidates.length === 0 ? undefined : pick(rng, candidates);
}

function binaryOp(rng: Rng, x: Tensor, y: Tensor): Tensor {
  switch (rng.int(0, 6)) {
    case 0:
      return nb.add(x, y);
    case 1:
      return nb.sub(x, y.mul(0.5));
    case 2:
      return nb.mul(x, y);
    case 3:
      return nb.maximum(x, y);
    case 4:
      return nb.minimum(x, y);
    default:
      return nb.div(x, nb.abs(y).add(0.5));
  }
}

/** Combines input `y` into `x`: elementwise where they broadcast, by matmul where `y` fits on the right, else with y's mean. */
function combine(rng: Rng, x: Tensor, y: Tensor): { value: Tensor; op: string } {
  if (broadcastable(x.shape, y.shape)) return { value: binaryOp(rng, x, y), op: "binary" };
  const k = x.shape[x.ndim - 1];
  if (y.ndim === 2 && y.shape[0] === k) return { value: nb.matmul(x, y).mul(1 / Math.sqrt(k)), op: "matmul" };
  return { value: x.add(nb.mean(y).mul(0.5)), op: "addMean" };
}

function reshaped(rng: Rng, x: Tensor): Tensor | undefined {
  const shape = [...x.shape];
  const roll = rng.next();
  if (roll < 0.4 && shape.length >= 2) {
    const i = rng.int(0, shape.length - 1);
    shape.splice(i, 2, shape[i] * shape[i + 1]);
  } else if (roll < 0.7) {
    const i = shape.findIndex((d) => d % 2 === 0 && d > 2);
    if (i < 0) return undefined;
    shape.splice(i, 1, 2, shape[i] / 2);
  } else {
    shape.splice(rng.int(0, shape.length + 1), 0, 1);
  }
  return shape.length > 4 ? undefined : nb.reshape(x, shape);
}

/**
 * Every step keeps values finite and moderate for inputs in [-2, 2]. The only condition (where) reads
 * the bool mask input: float32 rounding on the mesh could flip a condition on a computed value against
 * the reference, which would be a tolerance problem rather than a partitioning bug.
 */
const steps: Record<string, Step> = {
  tanh: ({ x }) => nb.tanh(x),
  sigmoid: ({ x }) => nb.sigmoid(x.mul(1.3)),
  affine: ({ rng, x }) => x.mul(rng.uniform(-1.5, 1.5)).add(rng.uniform(-1, 1)),
  leakyRelu: ({ x }) => nb.relu(x).add(x.mul(0.1)),
  exp: ({ x }) => nb.exp(nb.tanh(x).mul(2)).mul(0.3),
  sqrtAbs: ({ x }) => nb.sqrt(nb.abs(x).add(0.1)),
  sumBack: ({ rng, x }) => nb.sum(x, { axis: randomAxis(rng, x), keepdims: true }).mul(0.2).add(x),
  extremum: ({ rng, x }) => {
    const axis = randomAxis(rng, x);
    return rng.next() < 0.5 ? nb.max(x, { axis, keepdims: true }).sub(x) : x.sub(nb.min(x, { axis, keepdims: true }));
  },
  softmax: ({ rng, x }) => nb.softmax(x, randomAxis(rng, x)),
  logSoftmax: ({ rng, x }) => nb.logSoftmax(x, randomAxis(rng, x)).mul(0.3),
  layerNorm: ({ x }) => nb.nn.functional.layerNorm(x, [x.shape[x.ndim - 1]]),
  reduce: ({ rng, x }) => {
    if (x.ndim < 2) return undefined;
    const axis = randomAxis(rng, x);
    return rng.next() < 0.5 ? nb.sum(x, { axis }).mul(0.5) : nb.mean(x, { axis });
  },
  transpose: ({ rng, x }) => {
    const perm = Array.from({ length: x.ndim }, (_, i) => i);
    for (let i = perm.length - 1; i > 0; i--) {
      const j = rng.int(0, i + 1);
      [perm[i], perm[j]] = [perm[j], perm[i]];
    }
    return nb.transpose(x, perm);
  },
  flip: ({ rng, x }) => nb.flip(x, randomAxis(rng, x)),
  slice: ({ rng, x }) => {
    const axis = randomAxis(rng, x);
    const n = x.shape[axis];
    const start = rng.int(0, n);
    return nb.slice(x, x.shape.map((_, i) => (i === axis ? [start, n, rng.int(1, 3)] : null)));
  },
  concat: ({ rng, x }) => (numel(x.shape) > 400 ? undefined : nb.concat([x, x.mul(-0.5)], randomAxis(rng, x))),
  pad: ({ rng, x }) => (numel(x.shape) > 400 ? undefined : nb.pad(x, x.shape.map(() => [rng.int(0, 2), rng.int(0, 3)] as [number, number]), rng.uniform(-1, 1))),
  reshape: ({ rng, x }) => reshaped(rng, x),
  // Mesh axis "x" exists on every test mesh, so the constraint is valid wherever the program runs.
  constraint: ({ rng, x }) => {
    const axis = rng.int(-1, x.ndim);
    return nb.withShardingConstraint(x, nb.P(...x.shape.map((_, i) => (i === axis ? "x" : null))));
  },
  noise: ({ rng, x }) => x.add(nb.random.normal(x.shape, { key: nb.random.key(rng.int(0, 1000)) }).mul(0.1)),
  float64: ({ rng, x }) => nb.cast(nb.tanh(nb.cast(x, "float64").mul(rng.uniform(0.5, 1.5))), "float32"),
  binary: (context) => {
    const y = partnerOf(context);
    return y === undefined ? undefined : binaryOp(context.rng, context.x, y);
  },
  matmul: ({ rng, x, pool }) => {
    const k = x.shape[x.ndim - 1];
    const right = pool.filter((y) => y.ndim <= 2 && y.shape[0] === k && (x.ndim >= 2 || y.ndim === 2));
    if (right.length > 0) return nb.matmul(x, pick(rng, right)).mul(1 / Math.sqrt(k));
    if (x.ndim < 2) return undefined;
    return nb.matmul(x, nb.swapAxes(x, -1, -2)).mul(1 / Math.sqrt(k));
  },
  where: ({ x, mask }) => (mask !== undefined && broadcastable(x.shape, mask.shape) ? nb.where(mask, x, x.mul(-0.5).add(0.1)) : undefined),
  gather: ({ rng, x, index }) => {
    if (index === undefined) return undefined;
    const axes = x.shape.flatMap((d, axis) => (d === index.bound ? [axis] : []));
    return axes.length === 0 ? undefined : nb.take(x, index.tensor, pick(rng, axes));
  },
};

const stepNames = Object.keys(steps);

/** Draws the inputs of program `seed`: one to three float32 inputs, maybe a bool mask and an int32 index. */
function drawInputs(rng: Rng): { inputs: InputCase[]; mask: number; index: number } {
  const base = Array.from({ length: rng.int(1, 4) }, () => pick(rng, sizes));
  const inputs = [float32(base)];
  for (let i = 1, n = rng.int(1, 4); i < n; i++) inputs.push(float32(partnerShape(rng, base)));
  let mask = -1;
  let index = -1;
  if (rng.next() < 0.25) {
    mask = inputs.length;
    inputs.push({ aval: { shape: base.slice(rng.int(0, base.length)), dtype: "bool" }, domain: { kind: "bool" } });
  }
  if (rng.next() < 0.25) {
    index = inputs.length;
    const bound = pick(rng, base);
    inputs.push({ aval: { shape: [pick(rng, sizes)], dtype: "int32" }, domain: { kind: "index", bound } });
  }
  return { inputs, mask, index };
}

/** Builds program `seed`: the same seed always gives the same inputs and ops. */
export function randomProgram(seed: number): RandomProgram {
  const { inputs, mask, index } = drawInputs(new Rng(seed));
  const floatInputs = inputs.flatMap((input, i) => (input.aval.dtype === "float32" ? [i] : []));
  const ops: string[] = [];

  const forward = (...args: Tensor[]): Tensor[] => {
    const rng = new Rng(seed * 7919 + 1);
    ops.length = 0;
    const pool = floatInputs.map((i) => args[i]);
    const indexInput = index < 0 ? undefined : { tensor: args[index], bound: (inputs[index].domain as { bound: number }).bound };
    const maskInput = mask < 0 ? undefined : args[mask];
    let x = pool[0];
    // The mask and index inputs apply to the first input, whose shape they were drawn for.
    for (const name of [maskInput === undefined ? "" : "where", indexInput === undefined ? "" : "gather"].filter((n) => n !== "")) {
      x = steps[name]({ rng, x, pool, mask: maskInput, index: indexInput }) as Tensor;
      ops.push(name);
    }
    // Every float input is combined into the value, so each one reaches the outputs and the loss.
    for (const y of pool.slice(1)) {
      const { value, op } = combine(rng, x, y);
      ops.push(op);
      x = value;
      pool.push(x);
    }
    for (let i = 0, n = rng.int(2, 7); i < n; i++) {
      const context = { rng, x, pool, mask: maskInput, index: indexInput };
      let name = pick(rng, stepNames);
      let y = steps[name](context);
      for (let attempt = 0; y === undefined && attempt < 3; attempt++) y = steps[(name = pick(rng, stepNames))](context);
      ops.push(y === undefined ? "tanh" : name);
      x = y ?? nb.tanh(x);
      pool.push(x);
    }
    // A second output is sometimes an earlier value or an input itself, which the program returns unchanged.
    return rng.next() < 0.35 ? [x, pick(rng, pool.slice(0, -1))] : [x];
  };

  const weights = [1, 0.37];
  const loss = (...args: Tensor[]): Tensor =>
    forward(...args)
      .map((y, i) => nb.mean(y.mul(y)).mul(weights[i]))
      .reduce((a, b) => a.add(b));
  const gradient = (...args: Tensor[]): unknown => nb.valueAndGrad(loss, { argnums: floatInputs })(...args);

  return { seed, inputs, floatInputs, forward, gradient, ops };
}

export function avalsOf(program: RandomProgram): Aval[] {
  return program.inputs.map((input) => input.aval);
}
