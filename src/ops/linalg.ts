// Public linear algebra: matmul with NumPy's batch broadcasting and 1-D rules, and outer.

import { bind } from "../core/bind.js";
import { broadcastShapes, formatShape } from "../core/shape.js";
import type { Tensor } from "../core/tensor.js";
import { DTypeError, ShapeError } from "../runtime/errors.js";
import { broadcastTo, castTo, reshapeTo, resultType } from "./lift.js";

/**
 * Matrix product. 1-D operands are promoted to a row (left) or column (right) and the added axis is
 * removed from the result; leading batch axes broadcast.
 */
export function matmul(a: Tensor, b: Tensor): Tensor {
  if (a.ndim === 0 || b.ndim === 0) throw new ShapeError(`matmul: operands must have at least one dimension, got ${formatShape(a.shape)} and ${formatShape(b.shape)}; use mul for scalars`);
  const dtype = resultType(a, b);
  if (dtype === "bool") throw new DTypeError("matmul: bool operands are not supported; cast them to float32 or int32");
  const x0 = castTo(a, dtype);
  const y0 = castTo(b, dtype);

  const x = a.ndim === 1 ? reshapeTo(x0, [1, a.shape[0]]) : x0;
  const y = b.ndim === 1 ? reshapeTo(y0, [b.shape[0], 1]) : y0;
  const k = x.shape[x.ndim - 1];
  if (y.shape[y.ndim - 2] !== k) {
    throw new ShapeError(`matmul: inner dimensions differ: ${formatShape(a.shape)} @ ${formatShape(b.shape)} (${k} vs ${y.shape[y.ndim - 2]}); the last axis of the left operand must equal the second-to-last of the right`);
  }

  let batch: number[];
  try {
    batch = broadcastShapes("matmul", x.shape.slice(0, -2), y.shape.slice(0, -2));
  } catch {
    throw new ShapeError(`matmul: batch dimensions of ${formatShape(a.shape)} and ${formatShape(b.shape)} cannot be broadcast; leading dimensions must match or be 1`);
  }
  const m = x.shape[x.ndim - 2];
  const n = y.shape[y.ndim - 1];
  const product = bind("matmul", [broadcastTo(x, [...batch, m, k], "matmul"), broadcastTo(y, [...batch, k, n], "matmul")], {});

  const outShape = [...batch, ...(a.ndim === 1 ? [] : [m]), ...(b.ndim === 1 ? [] : [n])];
  return reshapeTo(product, outShape);
}

/** Outer product of two vectors: out[i, j] = a[i] * b[j]. */
export function outer(a: Tensor, b: Tensor): Tensor {
  if (a.ndim !== 1 || b.ndim !== 1) throw new ShapeError(`outer: expected two vectors, got ${formatShape(a.shape)} and ${formatShape(b.shape)}`);
  return matmul(reshapeTo(a, [a.shape[0], 1]), reshapeTo(b, [1, b.shape[0]]));
}
