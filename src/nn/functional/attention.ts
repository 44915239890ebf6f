// Scaled dot-product attention and the additive masks it takes.

import { arange, scalar } from "../../core/creation.js";
import { formatShape } from "../../core/shape.js";
import type { Tensor } from "../../core/tensor.js";
import type { DType } from "../../core/dtype.js";
import { add, cast, checkFloating, greater, mul, where } from "../../ops/elementwise.js";
import { matmul } from "../../ops/linalg.js";
import { reshape, swapAxes } from "../../ops/layout.js";
import { softmax } from "../../ops/reduction.js";
import { ShapeError } from "../../runtime/errors.js";
import { dropout } from "./layers.js";

/**
 * Converts a mask into an additive float mask. A float mask passes through, cast to `dtype`. In a
 * bool mask, entries equal to `blocked` become -Infinity and the others 0.
 */
export function additiveMask(mask: Tensor, dtype: DType, blocked: boolean): Tensor {
  if (mask.dtype !== "bool") return cast(mask, dtype);
  return where(blocked ? mask : mask.logicalNot(), scalar(-Infinity, dtype), scalar(0, dtype));
}

/** Builds an [L, S] additive mask that lets query i attend to keys 0..i only (-Infinity above the diagonal). */
export function causalMask(queryLength: number, keyLength: number, dtype: DType = "float32"): Tensor {
  const above = greater(reshape(arange(keyLength), [1, keyLength]), reshape(arange(queryLength), [queryLength, 1]));
  return additiveMask(above, dtype, true);
}

/** Adds two optional additive masks. */
export function combineMasks(a: Tensor | null, b: Tensor | null): Tensor | null {
  if (a === null) return b;
  return b === null ? a : add(a, b);
}

export interface AttentionOptions {
  /** Additive float mask, or bool mask where true means the pair takes part (PyTorch's scaled_dot_product_attention convention). */
  readonly attnMask?: Tensor | null;
  readonly dropoutP?: number;
  /** Adds a causal mask (query i attends to keys 0..i only). */
  readonly isCausal?: boolean;
  /** Factor applied to q k^T; 1 / sqrt(headDim) by default. */
  readonly scale?: number;
  /** Random key for the dropout; the global generator when omitted. */
  readonly key?: Tensor;
}

/**
 * softmax(q k^T * scale + mask) v over the last two axes, with dropout on the weights.
 * Returns the output and the attention weights; a fully masked row gives NaN, as in PyTorch.
 */
export function attentionWithWeights(query: Tensor, key: Tensor, value: Tensor, mask: Tensor | null, options: { scale?: number; dropoutP?: number; key?: Tensor }): [Tensor, Tensor] {
  checkFloating("scaledDotProductAttention", query);
  const headDim = query.shape[query.ndim - 1];
  if (key.ndim !== query.ndim || key.shape[key.ndim - 1] !== headDim || value.shape[value.ndim - 2] !== key.shape[key.ndim - 2]) {
    throw new ShapeError(
      `scaledDotProductAttention: query ${formatShape(query.shape)}, key ${formatShape(key.shape)} and value ${formatShape(value.shape)} do not fit; ` +
        "expected [..., L, E], [..., S, E] and [..., S, Ev]",
    );
  }
  const scale = options.scale ?? 1 / Math.sqrt(headDim);
  const scores = mul(matmul(query, swapAxes(key, -1, -2)), scale);
  let weights = softmax(mask === null ? scores : add(scores, mask), -1);
  const p = options.dropoutP ?? 0;
  if (p > 0) weights = dropout(weights, p, { key: options.key });
  return [matmul(weights, value), weights];
}

/** Attention as torch.nn.functional.scaled_dot_product_attention: q [..., L, E], k [..., S, E], v [..., S, Ev]. */
export function scaledDotProductAttention(query: Tensor, key: Tensor, value: Tensor, options: AttentionOptions = {}): Tensor {
  const L = query.shape[query.ndim - 2];
  const S = key.shape[key.ndim - 2];
  const user = options.attnMask === undefined || options.attnMask === null ? null : additiveMask(options.attnMask, query.dtype, false);
  const mask = combineMasks(user, options.isCausal ? causalMask(L, S, query.dtype) : null);
  return attentionWithWeights(query, key, value, mask, options)[0];
}
