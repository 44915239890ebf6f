// Public indexing ops: gather (take along an axis, embedding lookup), scatter-add, oneHot.

import { bind } from "../core/bind.js";
import { arange } from "../core/creation.js";
import type { DType } from "../core/dtype.js";
import { normalizeAxis } from "../core/shape.js";
import type { Tensor } from "../core/tensor.js";
import { DTypeError, ShapeError } from "../runtime/errors.js";
import { cast, equal } from "./elementwise.js";
import { unsqueeze } from "./layout.js";

function checkIndices(op: string, indices: Tensor): void {
  if (indices.dtype !== "int32") {
    throw new DTypeError(`${op}: indices must be int32, got ${indices.dtype}; cast them with nb.cast(indices, "int32")`);
  }
}

/**
 * Takes `x[..., indices, ...]` along `axis`: the axis is replaced by the indices' shape, so an
 * embedding lookup is `gather(table, tokenIds, 0)`. Out-of-range indices raise an IndexError.
 */
export function gather(x: Tensor, indices: Tensor, axis = 0): Tensor {
  checkIndices("gather", indices);
  return bind("gather", [x, indices], { axis: normalizeAxis("gather", axis, x.ndim) });
}

export const take = gather;

/**
 * Adds `updates` into a copy of `x` at `indices` along `axis`; duplicate indices accumulate. `updates`
 * has the shape `gather(x, indices, axis)` would have.
 */
export function scatterAdd(x: Tensor, indices: Tensor, updates: Tensor, axis = 0): Tensor {
  checkIndices("scatterAdd", indices);
  const a = normalizeAxis("scatterAdd", axis, x.ndim);
  const expected = [...x.shape.slice(0, a), ...indices.shape, ...x.shape.slice(a + 1)];
  if (updates.ndim !== expected.length || updates.shape.some((d, i) => d !== expected[i])) {
    throw new ShapeError(`scatterAdd: updates have shape [${updates.shape.join(", ")}] but x [${x.shape.join(", ")}] with indices [${indices.shape.join(", ")}] along axis ${a} needs [${expected.join(", ")}]`);
  }
  return bind("scatterAdd", [x, indices, cast(updates, x.dtype)], { axis: a });
}

/**
 * Returns `indices` unchanged, but realizing the result raises an IndexError naming `op` if any index
 * lies outside [0, bound). For ops whose arithmetic would otherwise ignore a bad index silently.
 */
export function checkedIndices(indices: Tensor, bound: number, op: string): Tensor {
  checkIndices(op, indices);
  return bind("checkIndices", [indices], { bound, op });
}

/** One-hot encoding along a new last axis: out[..., c] = (indices[...] == c); an index outside [0, numClasses) raises IndexError. */
export function oneHot(indices: Tensor, numClasses: number, dtype: DType = "float32"): Tensor {
  checkIndices("oneHot", indices);
  if (!Number.isInteger(numClasses) || numClasses < 0) throw new ShapeError(`oneHot: numClasses must be a non-negative integer, got ${numClasses}`);
  const checked = checkedIndices(indices, numClasses, "oneHot");
  return cast(equal(unsqueeze(checked, -1), arange(numClasses)), dtype);
}
