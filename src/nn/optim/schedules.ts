// Learning-rate schedules: functions of the step count that accept a number or a scalar tensor.

import { scalar } from "../../core/creation.js";
import { Tensor } from "../../core/tensor.js";
import { add, cast, cos, div, less, minimum, mul, pow, sub, where } from "../../ops/elementwise.js";
import { ValueError } from "../../runtime/errors.js";

/**
 * A learning rate as a function of the step (0 for the first step). A number gives a number; a
 * scalar tensor (such as a traced step counter inside compile) gives a float64 scalar tensor.
 */
export interface Schedule {
  (step: number): number;
  (step: Tensor): Tensor;
}

/** Arithmetic on numbers or on scalar tensors, so that each formula is written once. */
interface Arith<T> {
  lift(x: number): T;
  add(a: T, b: T): T;
  sub(a: T, b: T): T;
  mul(a: T, b: T): T;
  div(a: T, b: T): T;
  min(a: T, b: T): T;
  cos(a: T): T;
  pow(base: T, exponent: T): T;
  /** floor(a / b) for a, b >= 0. */
  floorDiv(a: T, b: T): T;
  /** a < b ? x : y. */
  select(a: T, b: T, x: T, y: T): T;
}

const numbers: Arith<number> = {
  lift: (x) => x,
  add: (a, b) => a + b,
  sub: (a, b) => a - b,
  mul: (a, b) => a * b,
  div: (a, b) => a / b,
  min: Math.min,
  cos: Math.cos,
  pow: (a, b) => a ** b,
  floorDiv: (a, b) => Math.floor(a / b),
  select: (a, b, x, y) => (a < b ? x : y),
};

const tensors: Arith<Tensor> = {
  lift: (x) => scalar(x, "float64"),
  add,
  sub,
  mul,
  div,
  min: minimum,
  cos,
  pow,
  // The cast truncates toward zero, which is the floor for the non-negative operands used here.
  floorDiv: (a, b) => cast(cast(div(a, b), "int32"), "float64"),
  select: (a, b, x, y) => where(less(a, b), x, y),
};

type Formula = <T>(step: T, m: Arith<T>) => T;

function schedule(formula: Formula): Schedule {
  return ((step: number | Tensor) => {
    if (typeof step === "number") return formula(step, numbers);
    return formula(cast(step, "float64"), tensors);
  }) as Schedule;
}

function checkSteps(op: string, name: string, value: number): void {
  if (!Number.isInteger(value) || value <= 0) throw new ValueError(`${op}: ${name} must be a positive integer, got ${value}`);
}

/** Rises linearly from initLr at step 0 to peakLr at warmupSteps, then stays at peakLr. */
export function linearWarmup(options: { peakLr: number; warmupSteps: number; initLr?: number }): Schedule {
  const { peakLr, warmupSteps, initLr = 0 } = options;
  checkSteps("linearWarmup", "warmupSteps", warmupSteps);
  return schedule((step, m) => {
    const progress = m.min(m.div(step, m.lift(warmupSteps)), m.lift(1));
    return m.add(m.lift(initLr), m.mul(m.lift(peakLr - initLr), progress));
  });
}

/** Half a cosine from initLr at step 0 to alpha * initLr at decaySteps, constant afterwards (optax's cosine_decay_schedule). */
export function cosineDecay(options: { initLr: number; decaySteps: number; alpha?: number }): Schedule {
  const { initLr, decaySteps, alpha = 0 } = options;
  checkSteps("cosineDecay", "decaySteps", decaySteps);
  return schedule((step, m) => {
    const progress = m.min(m.div(step, m.lift(decaySteps)), m.lift(1));
    return m.mul(m.lift(initLr), m.add(m.mul(m.lift(1 - alpha), cosineFactor(progress, m)), m.lift(alpha)));
  });
}

/** initLr * gamma^floor(step / stepSize), as torch.optim.lr_scheduler.StepLR. */
export function stepDecay(options: { initLr: number; stepSize: number; gamma?: number }): Schedule {
  const { initLr, stepSize, gamma = 0.1 } = options;
  checkSteps("stepDecay", "stepSize", stepSize);
  return schedule((step, m) => m.mul(m.lift(initLr), m.pow(m.lift(gamma), m.floorDiv(step, m.lift(stepSize)))));
}

/** 0.5 (1 + cos(pi * progress)): 1 at progress 0, 0 at progress 1. */
function cosineFactor<T>(progress: T, m: Arith<T>): T {
  return m.mul(m.lift(0.5), m.add(m.lift(1), m.cos(m.mul(m.lift(Math.PI), progress))));
}

/**
 * Linear warm-up from initLr to peakLr over warmupSteps, then cosine decay to endLr at decaySteps
 * (decaySteps counts the warm-up, as optax's warmup_cosine_decay_schedule); endLr afterwards.
 */
export function warmupCosineDecay(options: { peakLr: number; warmupSteps: number; decaySteps: number; initLr?: number; endLr?: number }): Schedule {
  const { peakLr, warmupSteps, decaySteps, initLr = 0, endLr = 0 } = options;
  checkSteps("warmupCosineDecay", "warmupSteps", warmupSteps);
  if (!(decaySteps > warmupSteps)) throw new ValueError(`warmupCosineDecay: decaySteps ${decaySteps} must exceed warmupSteps ${warmupSteps}`);
  return schedule((step, m) => {
    const warmProgress = m.div(step, m.lift(warmupSteps));
    const warmValue = m.add(m.lift(initLr), m.mul(m.lift(peakLr - initLr), warmProgress));
    const coolProgress = m.min(m.div(m.sub(step, m.lift(warmupSteps)), m.lift(decaySteps - warmupSteps)), m.lift(1));
    const coolValue = m.add(m.lift(endLr), m.mul(m.lift(peakLr - endLr), cosineFactor(coolProgress, m)));
    return m.select(step, m.lift(warmupSteps), warmValue, coolValue);
  });
}
