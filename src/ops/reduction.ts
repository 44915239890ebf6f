// Public reductions: sum, mean, max, min, prod, var, argmax, argmin, logsumexp, softmax, logSoftmax.

import { bind } from "../core/bind.js";
import { zeros } from "../core/creation.js";
import { floatTypeFor } from "../core/dtype.js";
import { normalizeAxes, normalizeAxis, sizeOf } from "../core/shape.js";
import type { Tensor } from "../core/tensor.js";
import { ValueError } from "../runtime/errors.js";
import { add, div, exp, log, mul, stopGradient, sub, where, abs, less } from "./elementwise.js";
import { castTo, reshapeTo } from "./lift.js";

export interface ReduceOptions {
  /** Axis or axes to reduce (negative counts from the end); all axes when omitted. */
  readonly axis?: number | readonly number[] | null;
  /** Keeps reduced axes with size 1 so the result broadcasts against the input. */
  readonly keepdims?: boolean;
}

/** Accepts `sum(x)`, `sum(x, axis)`, `sum(x, [a, b])` and `sum(x, {axis, keepdims})`. */
export type ReduceArg = number | readonly number[] | ReduceOptions | undefined;

export function reduceOptions(arg: ReduceArg): ReduceOptions {
  if (arg === undefined) return {};
  if (typeof arg === "number" || Array.isArray(arg)) return { axis: arg as number | readonly number[] };
  return arg as ReduceOptions;
}

function keptShape(shape: readonly number[], axes: readonly number[]): number[] {
  return shape.map((d, i) => (axes.includes(i) ? 1 : d));
}

function reduceWith(prim: "reduceSum" | "reduceMax" | "reduceMin" | "reduceProd", op: string, x: Tensor, arg: ReduceArg): Tensor {
  const { axis, keepdims = false } = reduceOptions(arg);
  const axes = normalizeAxes(op, axis, x.ndim);
  const input = x.dtype === "bool" ? castTo(x, "int32") : x;
  const reduced = axes.length === 0 ? input : bind(prim, [input], { axes });
  return keepdims ? reshapeTo(reduced, keptShape(x.shape, axes)) : reduced;
}

export const sum = (x: Tensor, arg?: ReduceArg): Tensor => reduceWith("reduceSum", "sum", x, arg);
export const max = (x: Tensor, arg?: ReduceArg): Tensor => reduceWith("reduceMax", "max", x, arg);
export const min = (x: Tensor, arg?: ReduceArg): Tensor => reduceWith("reduceMin", "min", x, arg);
export const prod = (x: Tensor, arg?: ReduceArg): Tensor => reduceWith("reduceProd", "prod", x, arg);

function reducedCount(x: Tensor, arg: ReduceArg, op: string): number {
  const axes = normalizeAxes(op, reduceOptions(arg).axis, x.ndim);
  return sizeOf(axes.map((a) => x.shape[a]));
}

/** Arithmetic mean; integer inputs give float32. The mean over zero elements is NaN, as in PyTorch. */
export function mean(x: Tensor, arg?: ReduceArg): Tensor {
  const float = castTo(x, floatTypeFor(x.dtype));
  return div(sum(float, arg), reducedCount(x, arg, "mean"));
}

export interface VarOptions extends ReduceOptions {
  /** Subtracted from the element count in the divisor; 1 (Bessel's correction) by default, as in PyTorch. */
  readonly correction?: number;
}

/** Variance with `correction` (1 by default); the mean is taken over the same axes. */
export function variance(x: Tensor, options: VarOptions | number | readonly number[] = {}): Tensor {
  const opts: VarOptions = typeof options === "number" || Array.isArray(options) ? { axis: options as number } : (options as VarOptions);
  const { correction = 1, keepdims = false } = opts;
  const float = castTo(x, floatTypeFor(x.dtype));
  const centered = sub(float, mean(float, { axis: opts.axis, keepdims: true }));
  const count = reducedCount(x, opts, "var");
  return div(sum(mul(centered, centered), { axis: opts.axis, keepdims }), Math.max(0, count - correction));
}

export interface ArgReduceOptions {
  /** Axis to search; without it the input is flattened and the index is into the flat data. */
  readonly axis?: number | null;
  readonly keepdims?: boolean;
}

function argReduce(prim: "argmax" | "argmin", x: Tensor, arg: number | ArgReduceOptions | undefined): Tensor {
  const { axis = null, keepdims = false } = typeof arg === "number" ? { axis: arg } : arg ?? {};
  if (axis === null) {
    const flat = reshapeTo(x, [x.numel()]);
    const index = bind(prim, [flat], { axis: 0 });
    return keepdims ? reshapeTo(index, x.shape.map(() => 1)) : index;
  }
  const a = normalizeAxis(prim, axis, x.ndim);
  const index = bind(prim, [x], { axis: a });
  return keepdims ? reshapeTo(index, keptShape(x.shape, [a])) : index;
}

/** Index of the maximum (first on ties, NaN counts as the maximum), as int32. */
export const argmax = (x: Tensor, arg?: number | ArgReduceOptions): Tensor => argReduce("argmax", x, arg);
/** Index of the minimum (first on ties, NaN counts as the minimum), as int32. */
export const argmin = (x: Tensor, arg?: number | ArgReduceOptions): Tensor => argReduce("argmin", x, arg);

/** Returns the maximum along the axes, held constant for differentiation and replaced by 0 where it is infinite. */
function stableShift(op: string, x: Tensor, axis: number | readonly number[] | null | undefined): Tensor {
  // An empty axis has no maximum; any finite shift works because the sum over it is 0.
  const axes = normalizeAxes(op, axis, x.ndim);
  if (axes.some((a) => x.shape[a] === 0)) return zeros(keptShape(x.shape, axes), { dtype: x.dtype });
  const m = stopGradient(max(x, { axis, keepdims: true }));
  return where(less(abs(m), Infinity), m, 0);
}

/** log(sum(exp(x))) computed without overflow by shifting with the maximum. */
export function logsumexp(x: Tensor, arg?: ReduceArg): Tensor {
  const { axis, keepdims = false } = reduceOptions(arg);
  const float = castTo(x, floatTypeFor(x.dtype));
  const shift = stableShift("logsumexp", float, axis);
  const summed = log(sum(exp(sub(float, shift)), { axis, keepdims: true }));
  const out = add(summed, shift);
  if (keepdims) return out;
  const axes = normalizeAxes("logsumexp", axis, x.ndim);
  return reshapeTo(out, x.shape.filter((_, i) => !axes.includes(i)));
}

/** Accepts `softmax(x)`, `softmax(x, axis)` and `softmax(x, {axis})`; the last axis by default. */
function softmaxAxis(arg: number | { readonly axis?: number } | undefined, op: string): number {
  const axis = typeof arg === "object" && arg !== null ? arg.axis : arg;
  if (axis !== undefined && !Number.isInteger(axis)) throw new ValueError(`${op}: axis must be an integer, got ${JSON.stringify(axis)}`);
  return axis ?? -1;
}

/** exp(x) / sum(exp(x)) along `axis` (the last by default), shifted by the maximum for stability. */
export function softmax(x: Tensor, axis?: number | { readonly axis?: number }): Tensor {
  const float = castTo(x, floatTypeFor(x.dtype));
  return bind("softmax", [float], { axis: normalizeAxis("softmax", softmaxAxis(axis, "softmax"), x.ndim) });
}

/** x - logsumexp(x) along `axis` (the last by default). */
export function logSoftmax(x: Tensor, axis?: number | { readonly axis?: number }): Tensor {
  const float = castTo(x, floatTypeFor(x.dtype));
  return bind("logSoftmax", [float], { axis: normalizeAxis("logSoftmax", softmaxAxis(axis, "logSoftmax"), x.ndim) });
}
