// Functional forms of the layers: linear, layerNorm, dropout.

import { zerosLike } from "../../core/creation.js";
import { formatShape, shapesEqual, sizeOf } from "../../core/shape.js";
import type { Tensor } from "../../core/tensor.js";
import { add, checkFloating, div, where } from "../../ops/elementwise.js";
import { matmul } from "../../ops/linalg.js";
import * as random from "../../ops/random.js";
import { layerNorm as normalizeLastAxis } from "../../ops/normalization.js";
import { reshape, swapAxes } from "../../ops/layout.js";
import { ShapeError, ValueError } from "../../runtime/errors.js";

/** y = x W^T + b with W of shape [out, in], as torch.nn.functional.linear. */
export function linear(x: Tensor, weight: Tensor, bias?: Tensor | null): Tensor {
  if (weight.ndim !== 2 || x.ndim === 0 || x.shape[x.ndim - 1] !== weight.shape[1]) {
    throw new ShapeError(
      `linear: input ${formatShape(x.shape)} does not fit weight ${formatShape(weight.shape)}; ` +
        "the weight is [outFeatures, inFeatures] and the input's last dimension must be inFeatures",
    );
  }
  const y = matmul(x, swapAxes(weight, 0, 1));
  return bias === undefined || bias === null ? y : add(y, bias);
}

/**
 * Normalises over the trailing dimensions `normalizedShape` with the biased variance, then scales
 * and shifts: (x - mean) / sqrt(var + eps) * weight + bias.
 */
export function layerNorm(x: Tensor, normalizedShape: readonly number[], weight?: Tensor | null, bias?: Tensor | null, eps = 1e-5): Tensor {
  checkFloating("layerNorm", x);
  const n = normalizedShape.length;
  const trailing = x.shape.slice(x.ndim - n);
  if (n === 0 || x.ndim < n || trailing.some((d, i) => d !== normalizedShape[i])) {
    throw new ShapeError(`layerNorm: input ${formatShape(x.shape)} does not end with normalizedShape ${formatShape(normalizedShape)}`);
  }
  // The trailing axes flatten into one last axis, as a view, for the layerNorm primitive.
  const cols = sizeOf(normalizedShape);
  const flatAffine = (t: Tensor | null | undefined, name: string): Tensor | null => {
    if (t === undefined || t === null) return null;
    if (!shapesEqual(t.shape, normalizedShape)) {
      throw new ShapeError(`layerNorm: ${name} has shape ${formatShape(t.shape)}, expected normalizedShape ${formatShape(normalizedShape)}`);
    }
    return reshape(t, [cols]);
  };
  const rows = reshape(x, [...x.shape.slice(0, x.ndim - n), cols]);
  return reshape(normalizeLastAxis(rows, flatAffine(weight, "weight"), flatAffine(bias, "bias"), eps), x.shape);
}

export interface DropoutOptions {
  /** Drop only when true (default true); the functional form has no module to ask. */
  readonly training?: boolean;
  /** Random key; the global generator when omitted. */
  readonly key?: Tensor;
}

/** Zeroes each element with probability `p` and scales the rest by 1 / (1 - p) while training. */
export function dropout(x: Tensor, p = 0.5, options: DropoutOptions = {}): Tensor {
  if (!(p >= 0 && p <= 1)) throw new ValueError(`dropout: probability p must be in [0, 1], got ${p}`);
  if (options.training === false || p === 0) return x;
  if (p === 1) return zerosLike(x);
  const keep = random.bernoulli(1 - p, x.shape, { key: options.key });
  return where(keep, div(x, 1 - p), 0);
}
