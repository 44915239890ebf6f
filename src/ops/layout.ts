// Public layout ops: reshape, transpose, slicing, padding, concatenation, flips and axis insertion.

import { bind } from "../core/bind.js";
import { promoteTypes } from "../core/dtype.js";
import { checkShape, formatShape, normalizeAxes, normalizeAxis, sizeOf, type Shape } from "../core/shape.js";
import type { Tensor } from "../core/tensor.js";
import { IndexError, ShapeError, ValueError } from "../runtime/errors.js";
import { broadcastTo as broadcastToShape, castTo, reshapeTo } from "./lift.js";

/** Reshapes to `shape`; one dimension may be -1 and is inferred from the element count. */
export function reshape(x: Tensor, shape: readonly number[]): Tensor {
  const inferred = shape.filter((d) => d === -1).length;
  if (inferred > 1) throw new ShapeError(`reshape: shape ${formatShape(shape)} has more than one -1; at most one dimension can be inferred`);
  const known = sizeOf(shape.filter((d) => d !== -1));
  checkShape("reshape", shape.filter((d) => d !== -1));
  const inferredSize = known === 0 ? 0 : x.numel() / known;
  const resolved = shape.map((d) => (d === -1 ? inferredSize : d));
  if (sizeOf(resolved) !== x.numel() || !resolved.every(Number.isInteger)) {
    throw new ShapeError(`reshape: cannot reshape ${formatShape(x.shape)} (${x.numel()} elements) into ${formatShape(shape)}`);
  }
  return reshapeTo(x, resolved);
}

export function broadcastTo(x: Tensor, shape: readonly number[]): Tensor {
  checkShape("broadcastTo", shape);
  return broadcastToShape(x, shape);
}

/** Permutes axes; without `perm` it reverses them, like NumPy's `transpose`. */
export function transpose(x: Tensor, perm?: readonly number[]): Tensor {
  const order = perm === undefined ? x.shape.map((_, i) => x.ndim - 1 - i) : perm.map((a) => normalizeAxis("transpose", a, x.ndim));
  if (order.length !== x.ndim || new Set(order).size !== x.ndim) {
    throw new ValueError(`transpose: perm [${perm?.join(", ")}] is not a permutation of the ${x.ndim} axes of ${formatShape(x.shape)}`);
  }
  if (order.every((a, i) => a === i)) return x;
  return bind("transpose", [x], { perm: order });
}

export const permute = transpose;

/** Swaps two axes; `swapAxes(x, -1, -2)` transposes the matrices of a batch. */
export function swapAxes(x: Tensor, a: number, b: number): Tensor {
  const perm = x.shape.map((_, i) => i);
  const i = normalizeAxis("swapAxes", a, x.ndim);
  const j = normalizeAxis("swapAxes", b, x.ndim);
  [perm[i], perm[j]] = [perm[j], perm[i]];
  return transpose(x, perm);
}

/** Start, stop and step of one axis; omitted parts take Python's defaults. */
export interface SliceSpec {
  readonly start?: number | null;
  readonly stop?: number | null;
  readonly step?: number | null;
}

/** Resolves a Python-style slice of an axis of size n to (start, count, step) with start the first index taken. */
function resolveSlice(spec: SliceSpec, n: number, axis: number): { start: number; count: number; step: number } {
  const step = spec.step ?? 1;
  if (!Number.isInteger(step) || step === 0) throw new ValueError(`slice: step ${step} on axis ${axis} must be a nonzero integer`);
  const clampIndex = (v: number, low: number, high: number): number => Math.min(Math.max(v < 0 ? v + n : v, low), high);
  const start = spec.start ?? null;
  const stop = spec.stop ?? null;
  if (step > 0) {
    const from = start === null ? 0 : clampIndex(start, 0, n);
    const to = stop === null ? n : clampIndex(stop, 0, n);
    return { start: from, count: Math.max(0, Math.ceil((to - from) / step)), step };
  }
  const from = start === null ? n - 1 : clampIndex(start, -1, n - 1);
  const to = stop === null ? -1 : clampIndex(stop, -1, n - 1);
  return { start: from, count: Math.max(0, Math.ceil((to - from) / step)), step };
}

/**
 * Slices Python-style, with one entry per leading axis: `null` (the whole axis), `[start, stop, step?]`
 * or `{start, stop, step}`. Negative indices count from the end, and negative steps walk backwards.
 */
export function slice(x: Tensor, specs: readonly (SliceSpec | readonly (number | null)[] | null)[]): Tensor {
  if (specs.length > x.ndim) throw new IndexError(`slice: ${specs.length} slice entries for a tensor of rank ${x.ndim}`);
  const resolved = x.shape.map((n, axis) => {
    const raw = specs[axis] ?? null;
    const spec: SliceSpec = raw === null ? {} : Array.isArray(raw) ? { start: raw[0], stop: raw[1], step: raw[2] } : (raw as SliceSpec);
    return resolveSlice(spec, n, axis);
  });

  const flipAxes = resolved.flatMap((r, axis) => (r.step < 0 && r.count > 0 ? [axis] : []));
  const source = flipAxes.length > 0 ? flip(x, flipAxes) : x;
  const start = resolved.map((r, axis) => {
    if (flipAxes.includes(axis)) return x.shape[axis] - 1 - r.start;
    return r.count === 0 ? 0 : r.start;
  });
  const step = resolved.map((r) => Math.abs(r.step));
  const stop = resolved.map((r, axis) => (r.count === 0 ? start[axis] : start[axis] + (r.count - 1) * step[axis] + 1));

  if (resolved.every((r, axis) => r.count === x.shape[axis] && r.step === 1)) return x;
  return bind("slice", [source], { start, stop, step });
}

/** Takes a block of `size` elements from `start` on every axis, like Nabla's `slice_tensor`. */
export function sliceTensor(x: Tensor, options: { start: readonly number[]; size: readonly number[] }): Tensor {
  const { start, size } = options;
  if (start.length !== x.ndim || size.length !== x.ndim) {
    throw new ShapeError(`sliceTensor: start [${start.join(", ")}] and size [${size.join(", ")}] need one entry per axis of ${formatShape(x.shape)}`);
  }
  start.forEach((s, axis) => {
    if (!Number.isInteger(s) || s < 0 || !Number.isInteger(size[axis]) || size[axis] < 0 || s + size[axis] > x.shape[axis]) {
      throw new IndexError(`sliceTensor: block start ${s} size ${size[axis]} does not fit axis ${axis} of size ${x.shape[axis]}`);
    }
  });
  return slice(x, start.map((s, axis) => [s, s + size[axis], 1]));
}

/** Pads with a constant: `padWidth[axis] = [before, after]`, as in `numpy.pad` mode "constant". */
export function pad(x: Tensor, padWidth: readonly (readonly [number, number])[], value = 0): Tensor {
  if (padWidth.length !== x.ndim) throw new ShapeError(`pad: padWidth has ${padWidth.length} entries for a tensor of rank ${x.ndim}; give [before, after] per axis`);
  for (const [before, after] of padWidth) {
    if (!Number.isInteger(before) || !Number.isInteger(after) || before < 0 || after < 0) {
      throw new ValueError(`pad: widths [${before}, ${after}] must be non-negative integers; use slice to crop`);
    }
  }
  return bind("pad", [x], {
    low: padWidth.map((p) => p[0]),
    high: padWidth.map((p) => p[1]),
    interior: padWidth.map(() => 0),
    value,
  });
}

/** Joins tensors along an existing axis; dtypes are promoted to a common one. */
export function concat(tensors: readonly Tensor[], axis = 0): Tensor {
  if (tensors.length === 0) throw new ValueError("concat: needs at least one tensor");
  const first = tensors[0];
  const a = normalizeAxis("concat", axis, first.ndim);
  for (const t of tensors) {
    const fits = t.ndim === first.ndim && t.shape.every((d, i) => i === a || d === first.shape[i]);
    if (!fits) throw new ShapeError(`concat: shapes ${tensors.map((u) => formatShape(u.shape)).join(", ")} differ outside axis ${axis}`);
  }
  if (tensors.length === 1) return first;
  const dtype = tensors.map((t) => t.dtype).reduce(promoteTypes);
  return bind("concat", tensors.map((t) => castTo(t, dtype)), { axis: a });
}

/** Inserts a size-1 axis at `axis` (which may be negative, counted in the result's rank). */
export function unsqueeze(x: Tensor, axis: number): Tensor {
  const a = normalizeAxis("unsqueeze", axis, x.ndim + 1);
  return reshapeTo(x, [...x.shape.slice(0, a), 1, ...x.shape.slice(a)]);
}

export const expandDims = unsqueeze;

/** Removes size-1 axes: all of them, or those listed; a listed axis of another size stays, as in PyTorch. */
export function squeeze(x: Tensor, axis?: number | readonly number[]): Tensor {
  const axes = axis === undefined ? x.shape.map((_, i) => i) : normalizeAxes("squeeze", axis, x.ndim);
  return reshapeTo(x, x.shape.filter((d, i) => !(d === 1 && axes.includes(i))));
}

/** Stacks equally shaped tensors along a new axis. */
export function stack(tensors: readonly Tensor[], axis = 0): Tensor {
  if (tensors.length === 0) throw new ValueError("stack: needs at least one tensor");
  const a = normalizeAxis("stack", axis, tensors[0].ndim + 1);
  return concat(tensors.map((t) => unsqueeze(t, a)), a);
}

/** Splits along `axis` into pieces of `sizes` (a list) or of equal size `sizes` (the last may be shorter), like `torch.split`. */
export function split(x: Tensor, sizes: number | readonly number[], axis = 0): Tensor[] {
  const a = normalizeAxis("split", axis, x.ndim);
  const n = x.shape[a];
  const list = typeof sizes === "number" ? chunkSizes(n, sizes) : [...sizes];
  if (list.reduce((s, v) => s + v, 0) !== n || list.some((v) => !Number.isInteger(v) || v < 0)) {
    throw new ShapeError(`split: sizes [${list.join(", ")}] must be non-negative integers adding up to ${n}, the size of axis ${axis}`);
  }
  let offset = 0;
  return list.map((size) => {
    const specs = x.shape.map((_, i) => (i === a ? [offset, offset + size, 1] : null));
    offset += size;
    return slice(x, specs);
  });
}

function chunkSizes(n: number, size: number): number[] {
  if (!Number.isInteger(size) || size <= 0) throw new ValueError(`split: section size ${size} must be a positive integer`);
  const sizes: number[] = [];
  for (let offset = 0; offset < n; offset += size) sizes.push(Math.min(size, n - offset));
  return sizes;
}

/** Reverses the order of elements along `axis` (all axes when omitted). */
export function flip(x: Tensor, axis?: number | readonly number[]): Tensor {
  const axes = normalizeAxes("flip", axis, x.ndim);
  return axes.length === 0 ? x : bind("flip", [x], { axes });
}

/** Flattens to one dimension. */
export function flatten(x: Tensor): Tensor {
  return reshapeTo(x, [x.numel()]);
}

export type { Shape };
