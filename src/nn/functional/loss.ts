// Loss functions with PyTorch's conventions: cross entropy, mean squared error, BCE with logits.

import { formatShape, normalizeAxis, shapesEqual } from "../../core/shape.js";
import type { Tensor } from "../../core/tensor.js";
import { isFloating } from "../../core/dtype.js";
import { abs, add, cast, checkFloating, div, equal, exp, log1p, maximum, mul, neg, notEqual, sub, where } from "../../ops/elementwise.js";
import { reshape, unsqueeze } from "../../ops/layout.js";
import { arange } from "../../core/creation.js";
import { checkedIndices } from "../../ops/indexing.js";
import { logSoftmax, mean, sum } from "../../ops/reduction.js";
import { DTypeError, ShapeError, ValueError } from "../../runtime/errors.js";

export type Reduction = "mean" | "sum" | "none";

function reduce(loss: Tensor, reduction: Reduction | undefined, op: string): Tensor {
  switch (reduction ?? "mean") {
    case "mean":
      return mean(loss);
    case "sum":
      return sum(loss);
    case "none":
      return loss;
    default:
      throw new ValueError(`${op}: reduction must be "mean", "sum" or "none", got ${JSON.stringify(reduction)}`);
  }
}

export interface CrossEntropyOptions {
  readonly reduction?: Reduction;
  /** Mixes the target with the uniform distribution: (1 - s) * target + s / C. */
  readonly labelSmoothing?: number;
  /** Class-index targets equal to this value contribute nothing and are left out of the mean (default -100). */
  readonly ignoreIndex?: number;
  /** The class axis; 1 by default (0 for unbatched 1-D logits), as in PyTorch. Pass -1 for [..., C] logits. */
  readonly axis?: number;
}

/**
 * Cross entropy between logits and targets, as torch.nn.functional.cross_entropy. Targets are either
 * int32 class indices (the logits' shape without the class axis) or float probabilities (one-hot or
 * soft) of the logits' shape.
 */
export function crossEntropyLoss(logits: Tensor, target: Tensor, options: CrossEntropyOptions = {}): Tensor {
  checkFloating("crossEntropyLoss", logits);
  const smoothing = options.labelSmoothing ?? 0;
  if (!(smoothing >= 0 && smoothing <= 1)) throw new ValueError(`crossEntropyLoss: labelSmoothing must be in [0, 1], got ${smoothing}`);
  const axis = normalizeAxis("crossEntropyLoss", options.axis ?? (logits.ndim === 1 ? 0 : 1), logits.ndim);
  const logProbs = logSoftmax(logits, axis);

  if (isFloating(target.dtype)) return probabilityTargets(logProbs, target, axis, smoothing, options.reduction);
  if (target.dtype !== "int32") {
    throw new DTypeError(`crossEntropyLoss: targets must be int32 class indices or float probabilities, got ${target.dtype}`);
  }
  return indexTargets(logProbs, target, axis, smoothing, options);
}

function probabilityTargets(logProbs: Tensor, target: Tensor, axis: number, smoothing: number, reduction: Reduction | undefined): Tensor {
  if (!shapesEqual(target.shape, logProbs.shape)) {
    throw new ShapeError(`crossEntropyLoss: probability targets ${formatShape(target.shape)} must have the logits' shape ${formatShape(logProbs.shape)}`);
  }
  const classes = logProbs.shape[axis];
  const smoothed = smoothing === 0 ? cast(target, logProbs.dtype) : add(mul(cast(target, logProbs.dtype), 1 - smoothing), smoothing / classes);
  const loss = neg(sum(mul(smoothed, logProbs), axis));
  return reduce(loss, reduction, "crossEntropyLoss");
}

function indexTargets(logProbs: Tensor, target: Tensor, axis: number, smoothing: number, options: CrossEntropyOptions): Tensor {
  const expected = logProbs.shape.filter((_, i) => i !== axis);
  if (!shapesEqual(target.shape, expected)) {
    throw new ShapeError(
      `crossEntropyLoss: class-index targets ${formatShape(target.shape)} must have the logits' shape without the class axis, ${formatShape(expected)}`,
    );
  }
  const ignoreIndex = options.ignoreIndex ?? -100;
  const counted = notEqual(target, ignoreIndex);
  // Ignored positions may hold an out-of-range index, so they gather class 0 and are masked afterwards.
  const safeTarget = checkedIndices(where(counted, target, 0), logProbs.shape[axis], "crossEntropyLoss");
  const picked = sum(where(classMask(safeTarget, logProbs.shape[axis], axis), logProbs, 0), axis);
  let loss = neg(picked);
  if (smoothing > 0) {
    const uniformTerm = neg(mean(logProbs, axis));
    loss = add(mul(loss, 1 - smoothing), mul(uniformTerm, smoothing));
  }
  loss = where(counted, loss, 0);
  if ((options.reduction ?? "mean") !== "mean") return reduce(loss, options.reduction, "crossEntropyLoss");
  // The mean runs over the targets that are not ignored; all ignored gives NaN, as in PyTorch.
  return div(sum(loss), sum(cast(counted, logProbs.dtype)));
}

/** Builds a bool mask, true where the class index along `axis` equals the target; broadcasts against the logits. */
function classMask(target: Tensor, classes: number, axis: number): Tensor {
  const shape = Array.from({ length: target.ndim + 1 }, (_, i) => (i === axis ? classes : 1));
  return equal(unsqueeze(target, axis), reshape(arange(classes), shape));
}

/** Mean squared error, as torch.nn.functional.mse_loss; input and target broadcast together. */
export function mseLoss(input: Tensor, target: Tensor, options: { reduction?: Reduction } = {}): Tensor {
  checkFloating("mseLoss", input);
  const diff = sub(input, target);
  return reduce(mul(diff, diff), options.reduction, "mseLoss");
}

export interface BceWithLogitsOptions {
  readonly reduction?: Reduction;
  /** Weight of the positive term, broadcast along the last (class) axis. */
  readonly posWeight?: Tensor | number;
}

/**
 * Binary cross entropy on logits x with targets t in [0, 1], computed stably as
 * (1 - t) x + (1 + (w - 1) t) (log(1 + exp(-|x|)) + max(-x, 0)), where w is posWeight (1 by default).
 */
export function binaryCrossEntropyWithLogits(logits: Tensor, target: Tensor, options: BceWithLogitsOptions = {}): Tensor {
  checkFloating("binaryCrossEntropyWithLogits", logits);
  if (!shapesEqual(logits.shape, target.shape)) {
    throw new ShapeError(`binaryCrossEntropyWithLogits: target ${formatShape(target.shape)} must have the logits' shape ${formatShape(logits.shape)}`);
  }
  const t = cast(target, logits.dtype);
  const softplusNeg = add(log1p(exp(neg(abs(logits)))), maximum(neg(logits), 0));
  const positive = options.posWeight === undefined ? 1 : add(mul(t, sub(options.posWeight, 1)), 1);
  const loss = add(mul(sub(1, t), logits), mul(positive, softplusNeg));
  return reduce(loss, options.reduction, "binaryCrossEntropyWithLogits");
}
