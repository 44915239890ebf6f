// AdamW, Adam and SGD as stateful optimizers over a module's parameters.

import { zerosLike } from "../../core/creation.js";
import type { Tensor } from "../../core/tensor.js";
import { ValueError } from "../../runtime/errors.js";
import { checkSgdOptions } from "./functional.js";
import { Optimizer, type ParameterSource, type ParameterState, type PlannedUpdate } from "./optimizer.js";
import { adamRule, sgdRule } from "./rules.js";

export interface AdamConfig {
  readonly lr?: number;
  readonly betas?: readonly [number, number];
  readonly eps?: number;
  readonly weightDecay?: number;
}

class AdamBase<S extends ParameterSource> extends Optimizer<S> {
  readonly betas: readonly [number, number];
  readonly eps: number;
  readonly weightDecay: number;
  readonly #decoupled: boolean;

  constructor(target: S, config: AdamConfig, decoupled: boolean) {
    super(target, config.lr ?? 1e-3);
    this.betas = config.betas ?? [0.9, 0.999];
    if (!this.betas.every((b) => b >= 0 && b < 1)) throw new ValueError(`${new.target.name}: betas must be in [0, 1), got [${this.betas.join(", ")}]`);
    this.eps = config.eps ?? 1e-8;
    this.weightDecay = config.weightDecay ?? (decoupled ? 1e-2 : 0);
    this.#decoupled = decoupled;
  }

  protected plan(param: Tensor, grad: Tensor, state: ParameterState | undefined): PlannedUpdate {
    const t = (state?.step ?? 0) + 1;
    const [beta1, beta2] = this.betas;
    const [p, m, v] = adamRule(param, grad, state?.tensors.m ?? zerosLike(param), state?.tensors.v ?? zerosLike(param), {
      stepSize: this.lr / (1 - beta1 ** t),
      biasCorrection2Sqrt: Math.sqrt(1 - beta2 ** t),
      decoupledDecay: this.#decoupled ? this.lr * this.weightDecay : 0,
      l2: this.#decoupled ? 0 : this.weightDecay,
      beta1,
      beta2,
      eps: this.eps,
    });
    return { value: p, tensors: { m, v } };
  }

  protected options(): Record<string, unknown> {
    return { betas: [...this.betas], eps: this.eps, weightDecay: this.weightDecay };
  }
}

/** AdamW with decoupled weight decay (default 0.01), as torch.optim.AdamW. */
export class AdamW<S extends ParameterSource = ParameterSource> extends AdamBase<S> {
  constructor(target: S, config: AdamConfig = {}) {
    super(target, config, true);
  }
}

/** Adam with weight decay as an L2 penalty on the gradient (default 0), as torch.optim.Adam. */
export class Adam<S extends ParameterSource = ParameterSource> extends AdamBase<S> {
  constructor(target: S, config: AdamConfig = {}) {
    super(target, config, false);
  }
}

export interface SgdConfig {
  readonly lr: number;
  readonly momentum?: number;
  readonly dampening?: number;
  readonly nesterov?: boolean;
  readonly weightDecay?: number;
}

/** Stochastic gradient descent with optional momentum, as torch.optim.SGD. */
export class SGD<S extends ParameterSource = ParameterSource> extends Optimizer<S> {
  readonly momentum: number;
  readonly dampening: number;
  readonly nesterov: boolean;
  readonly weightDecay: number;

  constructor(target: S, config: SgdConfig) {
    super(target, config.lr);
    checkSgdOptions("SGD", config);
    this.momentum = config.momentum ?? 0;
    this.dampening = config.dampening ?? 0;
    this.nesterov = config.nesterov ?? false;
    this.weightDecay = config.weightDecay ?? 0;
  }

  protected plan(param: Tensor, grad: Tensor, state: ParameterState | undefined): PlannedUpdate {
    const buffer = state?.tensors.momentum ?? zerosLike(param);
    const [p, b] = sgdRule(param, grad, buffer, {
      lr: this.lr,
      momentum: this.momentum,
      dampening: this.dampening,
      nesterov: this.nesterov,
      weightDecay: this.weightDecay,
      first: state === undefined,
    });
    return { value: p, tensors: this.momentum === 0 ? {} : { momentum: b } };
  }

  protected options(): Record<string, unknown> {
    return { momentum: this.momentum, dampening: this.dampening, nesterov: this.nesterov, weightDecay: this.weightDecay };
  }
}
