// Layer norm over the last axis as one primitive, so a backend can run each direction as one row kernel.

import { bind } from "../core/bind.js";
import { isFloating, promoteTypes } from "../core/dtype.js";
import { formatShape } from "../core/shape.js";
import type { Tensor } from "../core/tensor.js";
import { DTypeError, ShapeError, ValueError } from "../runtime/errors.js";
import { full } from "../core/creation.js";
import { castTo } from "./lift.js";

/**
 * (x - mean) / sqrt(var + eps) * weight + bias over the last axis, with the biased variance. A null
 * weight means ones and a null bias means zeros. Integer inputs are rejected; mixed float dtypes promote.
 */
export function layerNorm(x: Tensor, weight: Tensor | null, bias: Tensor | null, eps = 1e-5): Tensor {
  if (!isFloating(x.dtype)) throw new DTypeError(`layerNorm: the input must be float32 or float64, got ${x.dtype}; cast it first`);
  if (x.ndim === 0) throw new ShapeError("layerNorm: the input is a scalar; it needs an axis to normalize over");
  if (!(eps >= 0)) throw new ValueError(`layerNorm: eps must be a non-negative number, got ${eps}`);
  const cols = x.shape[x.ndim - 1];
  for (const [name, t] of [["weight", weight], ["bias", bias]] as const) {
    if (t !== null && (t.ndim !== 1 || t.shape[0] !== cols)) {
      throw new ShapeError(`layerNorm: ${name} has shape ${formatShape(t.shape)}, expected [${cols}] to match the last axis of the input ${formatShape(x.shape)}`);
    }
  }
  const dtype = [weight, bias].reduce((d, t) => (t === null ? d : promoteTypes(d, t.dtype)), x.dtype);
  const affine = (t: Tensor | null, fill: number): Tensor => (t === null ? full([cols], fill, { dtype }) : castTo(t, dtype));
  return bind("layerNorm", [castTo(x, dtype), affine(weight, 1), affine(bias, 0)], { eps });
}

/** The packed [rows + 2, C] gradients of layerNorm: dx by rows, then dweight, then dbias. */
export function layerNormGrad(dy: Tensor, x: Tensor, weight: Tensor, eps: number): Tensor {
  return bind("layerNormGrad", [dy, x, weight], { eps });
}
