// Stateful optimizers (PyTorch style): they read `.grad` and update the parameters in place.

import { noGrad } from "../../core/grad-mode.js";
import { formatShape, shapesEqual } from "../../core/shape.js";
import { realize, Tensor } from "../../core/tensor.js";
import { ValueError } from "../../runtime/errors.js";
import { Module } from "../module.js";

/** The parameters an optimizer trains: a module, an array of parameters or a record of named parameters. */
export type ParameterSource = Module | readonly Tensor[] | Readonly<Record<string, Tensor>>;

/** Per-parameter state: the step count and named tensors (moments, momentum buffers). */
export interface ParameterState {
  step: number;
  readonly tensors: Record<string, Tensor>;
}

export interface OptimizerStateDict {
  readonly state: Record<string, { step: number; tensors: Record<string, Tensor> }>;
  readonly options: Record<string, unknown>;
}

/** A planned update of one parameter: its new value and new state tensors, realized together with all others. */
export interface PlannedUpdate {
  readonly value: Tensor;
  readonly tensors: Record<string, Tensor>;
}

function namedParametersOf(source: ParameterSource): [string, Tensor][] {
  if (source instanceof Module) return source.namedParameters();
  if (Array.isArray(source)) return (source as readonly Tensor[]).map((p, i) => [String(i), p]);
  return Object.entries(source as Record<string, Tensor>);
}

/**
 * Base class of the stateful optimizers. State is keyed by parameter name, so train()/eval() or
 * rebuilding the module list never invalidates it. `step()` updates every parameter that has a
 * gradient with `Tensor.assign`, realizing all new values and state in one pass, and returns the
 * model, so `model = optimizer.step()` and plain `optimizer.step()` both work.
 */
export abstract class Optimizer<S extends ParameterSource = ParameterSource> {
  /** Learning rate; schedules may change it between steps. */
  lr: number;
  readonly #target: S;
  readonly #state = new Map<string, ParameterState>();

  constructor(target: S, lr: number) {
    if (!(lr >= 0)) throw new ValueError(`${new.target.name}: lr must be a non-negative number, got ${lr}`);
    this.#target = target;
    this.lr = lr;
  }

  /** Returns the trained parameters by name; they are read afresh on every step. */
  namedParameters(): [string, Tensor][] {
    return namedParametersOf(this.#target);
  }

  /** Clears `.grad` of every parameter. */
  zeroGrad(): void {
    for (const [, p] of this.namedParameters()) p.grad = null;
  }

  /** Computes the update of one parameter (lazily); `state` is undefined before its first step. */
  protected abstract plan(param: Tensor, grad: Tensor, state: ParameterState | undefined): PlannedUpdate;

  /** Options recorded in the state dict. */
  protected abstract options(): Record<string, unknown>;

  step(): S {
    const planned: [string, Tensor, PlannedUpdate][] = [];
    noGrad(() => {
      for (const [name, param] of this.namedParameters()) {
        if (param.grad === null) continue;
        planned.push([name, param, this.plan(param, param.grad, this.#state.get(name))]);
      }
    });
    realize(...planned.flatMap(([, , u]) => [u.value, ...Object.values(u.tensors)]));
    for (const [name, param, update] of planned) {
      noGrad(() => param.assign(update.value));
      const previous = this.#state.get(name);
      this.#state.set(name, { step: (previous?.step ?? 0) + 1, tensors: update.tensors });
    }
    return this.#target;
  }

  stateDict(): OptimizerStateDict {
    const state = Object.fromEntries([...this.#state].map(([name, s]) => [name, { step: s.step, tensors: { ...s.tensors } }]));
    return { state, options: { lr: this.lr, ...this.options() } };
  }

  /** Restores state saved by stateDict(); every name and shape must match this optimizer's parameters. */
  loadStateDict(dict: OptimizerStateDict): void {
    const params = new Map(this.namedParameters());
    for (const [name, s] of Object.entries(dict.state)) {
      const param = params.get(name);
      if (param === undefined) {
        throw new ValueError(`${this.constructor.name}.loadStateDict: state for unknown parameter "${name}"; the parameters are ${[...params.keys()].join(", ")}`);
      }
      for (const [key, t] of Object.entries(s.tensors)) {
        if (!shapesEqual(t.shape, param.shape)) {
          throw new ValueError(`${this.constructor.name}.loadStateDict: ${name}.${key} has shape ${formatShape(t.shape)}, the parameter ${formatShape(param.shape)}`);
        }
      }
    }
    this.#state.clear();
    for (const [name, s] of Object.entries(dict.state)) this.#state.set(name, { step: s.step, tensors: { ...s.tensors } });
    if (typeof dict.options.lr === "number") this.lr = dict.options.lr;
  }
}
