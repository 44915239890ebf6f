// JAX-style optimizers: pure init and update functions over any pytree of parameters (a Module included).

import { scalar, zerosLike } from "../../core/creation.js";
import { noGrad } from "../../core/grad-mode.js";
import { treeUnflatten } from "../../core/pytree.js";
import { Tensor } from "../../core/tensor.js";
import { add, cast, div, equal, pow, sqrt, sub, mul } from "../../ops/elementwise.js";
import type { Operand } from "../../ops/lift.js";
import { ValueError } from "../../runtime/errors.js";
import { adamRule, sgdRule } from "./rules.js";
import { matchingGrads, namedLeaves } from "./tree.js";

/**
 * Adam state: the step count and the moments keyed by parameter name. It has no module structure,
 * so it does not depend on a module's train/eval flag.
 */
export interface AdamState {
  /** Steps taken, a float64 scalar. */
  readonly step: Tensor;
  readonly m: Readonly<Record<string, Tensor>>;
  readonly v: Readonly<Record<string, Tensor>>;
}

export interface AdamOptions {
  /** Learning rate: a number, or a scalar tensor (for example a traced value inside compile). */
  readonly lr?: number | Tensor;
  readonly betas?: readonly [number, number];
  readonly eps?: number;
  readonly weightDecay?: number;
}

/** Zero moments for the trainable leaves, each placed like its parameter, so a compiled step on a mesh keeps one layout. */
function zerosFor(params: unknown): Record<string, Tensor> {
  const { leaves } = namedLeaves(params);
  return Object.fromEntries(
    leaves.filter((l) => l.trainable).map((l) => {
      const moment = zerosLike(l.value);
      moment.sharding = l.value.sharding;
      return [l.name, moment];
    }),
  );
}

/** Zero moments for every trainable leaf (parameters, not buffers) of `params`. */
export function adamwInit(params: unknown): AdamState {
  return { step: scalar(0, "float64"), m: zerosFor(params), v: zerosFor(params) };
}

export const adamInit = adamwInit;

/** lr * factor, computed on the host when lr is a number so that float64 parameters keep full precision. */
function scaleLr(lr: Operand, factor: number): Operand {
  return typeof lr === "number" ? lr * factor : mul(lr, factor);
}

function checkBetas(op: string, betas: readonly [number, number]): void {
  if (!betas.every((b) => b >= 0 && b < 1)) throw new ValueError(`${op}: betas must be in [0, 1), got [${betas.join(", ")}]`);
}

function adamUpdateImpl<P>(op: string, decoupled: boolean, params: P, grads: unknown, state: AdamState, options: AdamOptions): [P, AdamState] {
  const { lr = 1e-3, betas = [0.9, 0.999], eps = 1e-8, weightDecay = decoupled ? 1e-2 : 0 } = options;
  checkBetas(op, betas);
  const { leaves, treedef } = namedLeaves(params);
  const gradLeaves = matchingGrads(op, leaves, grads);

  // The update is not differentiated, as torch.optim steps under no_grad; this also keeps the
  // training history from being retained through the new parameters.
  return noGrad(() => {
    const step = add(state.step, 1);
    const lr64: Operand = lr instanceof Tensor ? cast(lr, "float64") : lr;
    const hyper = {
      stepSize: div(lr64, sub(1, pow(scalar(betas[0], "float64"), step))),
      biasCorrection2Sqrt: sqrt(sub(1, pow(scalar(betas[1], "float64"), step))),
      decoupledDecay: decoupled ? scaleLr(lr64, weightDecay) : 0,
      l2: decoupled ? 0 : weightDecay,
      beta1: betas[0],
      beta2: betas[1],
      eps,
    };
    const m: Record<string, Tensor> = {};
    const v: Record<string, Tensor> = {};
    const updated = leaves.map((leaf, i) => {
      if (!leaf.trainable) return leaf.value;
      const [m0, v0] = [state.m[leaf.name], state.v[leaf.name]];
      if (m0 === undefined || v0 === undefined) {
        throw new ValueError(`${op}: the state has no moments for parameter "${leaf.name}"; create the state with ${decoupled ? "adamwInit" : "adamInit"}(params) from the same parameters`);
      }
      const [p, m1, v1] = adamRule(leaf.value, gradLeaves[i], m0, v0, hyper);
      m[leaf.name] = m1;
      v[leaf.name] = v1;
      return p;
    });
    return [treeUnflatten(treedef, updated) as P, { step, m, v }];
  });
}

/**
 * Applies one AdamW step (decoupled weight decay, default 0.01, as torch.optim.AdamW). Returns
 * `[newParams, newState]` with `newParams` shaped like `params`; buffers pass through unchanged.
 * Nothing is realized, so it can run inside compile with `lr` a traced scalar.
 */
export function adamwUpdate<P>(params: P, grads: unknown, state: AdamState, options: AdamOptions = {}): [P, AdamState] {
  return adamUpdateImpl("adamwUpdate", true, params, grads, state, options);
}

/** Applies one Adam step; weightDecay (default 0) is an L2 penalty added to the gradient, as torch.optim.Adam. */
export function adamUpdate<P>(params: P, grads: unknown, state: AdamState, options: AdamOptions = {}): [P, AdamState] {
  return adamUpdateImpl("adamUpdate", false, params, grads, state, options);
}

export interface SgdState {
  readonly step: Tensor;
  /** Momentum buffers keyed by parameter name (unused when momentum is 0). */
  readonly momentum: Readonly<Record<string, Tensor>>;
}

export interface SgdOptions {
  readonly lr: number | Tensor;
  readonly momentum?: number;
  readonly dampening?: number;
  readonly nesterov?: boolean;
  readonly weightDecay?: number;
}

export function sgdInit(params: unknown): SgdState {
  return { step: scalar(0, "float64"), momentum: zerosFor(params) };
}

export function checkSgdOptions(op: string, options: SgdOptions): void {
  const { momentum = 0, dampening = 0, nesterov = false } = options;
  if (nesterov && (momentum <= 0 || dampening !== 0)) {
    throw new ValueError(`${op}: nesterov momentum needs momentum > 0 and dampening 0, got momentum ${momentum} and dampening ${dampening}`);
  }
}

/** Applies one SGD step with optional momentum, dampening, Nesterov momentum and weight decay, as torch.optim.SGD. */
export function sgdUpdate<P>(params: P, grads: unknown, state: SgdState, options: SgdOptions): [P, SgdState] {
  checkSgdOptions("sgdUpdate", options);
  const { leaves, treedef } = namedLeaves(params);
  const gradLeaves = matchingGrads("sgdUpdate", leaves, grads);
  return noGrad(() => {
    const hyper = {
      lr: options.lr,
      momentum: options.momentum ?? 0,
      dampening: options.dampening ?? 0,
      nesterov: options.nesterov ?? false,
      weightDecay: options.weightDecay ?? 0,
      first: equal(state.step, 0),
    };
    const momentum: Record<string, Tensor> = {};
    const updated = leaves.map((leaf, i) => {
      if (!leaf.trainable) return leaf.value;
      const buffer = state.momentum[leaf.name];
      if (buffer === undefined) throw new ValueError(`sgdUpdate: the state has no buffer for parameter "${leaf.name}"; create it with sgdInit(params)`);
      const [p, b] = sgdRule(leaf.value, gradLeaves[i], buffer, hyper);
      momentum[leaf.name] = b;
      return p;
    });
    return [treeUnflatten(treedef, updated) as P, { step: add(state.step, 1), momentum }];
  });
}
