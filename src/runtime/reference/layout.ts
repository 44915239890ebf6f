// Reference data movement: strided views (transpose, broadcast, slice, flip), pad, concat, gather, scatter-add.

import { IndexError } from "../errors.js";
import { allocate, sizeOf, stridesOf, type Storage, type StorageDType } from "../storage.js";

/**
 * Copies the affine view `out[i] = x[offset + sum_d i_d * strides[d]]` into a new dense storage.
 * Transpose permutes strides, broadcast uses stride 0, slice scales strides by the step, flip negates them.
 */
export function stridedCopy(
  x: Storage,
  outShape: readonly number[],
  strides: readonly number[],
  offset: number,
  dtype: StorageDType,
): Storage {
  const total = sizeOf(outShape);
  const out = allocate(dtype, total);
  const rank = outShape.length;
  const counter = new Array<number>(rank).fill(0);
  let source = offset;

  for (let i = 0; i < total; i++) {
    out[i] = x[source];
    for (let d = rank - 1; d >= 0; d--) {
      counter[d]++;
      source += strides[d];
      if (counter[d] < outShape[d]) break;
      source -= strides[d] * outShape[d];
      counter[d] = 0;
    }
  }
  return out;
}

/** Pads with `value`: `low` and `high` elements at each end and `interior` elements between neighbours. */
export function pad(
  x: Storage,
  shape: readonly number[],
  low: readonly number[],
  high: readonly number[],
  interior: readonly number[],
  value: number,
  dtype: StorageDType,
): Storage {
  const outShape = shape.map((n, d) => low[d] + high[d] + n + Math.max(0, n - 1) * interior[d]);
  const out = allocate(dtype, sizeOf(outShape));
  out.fill(value);

  const outStrides = stridesOf(outShape);
  const placement = shape.map((_, d) => outStrides[d] * (interior[d] + 1));
  const start = low.reduce((acc, l, d) => acc + l * outStrides[d], 0);
  const target = stridedScatterView(shape, placement, start);
  for (let i = 0; i < x.length; i++) out[target(i)] = x[i];
  return out;
}

/** Maps a row-major index of `shape` to `start + sum_d i_d * strides[d]`. */
function stridedScatterView(shape: readonly number[], strides: readonly number[], start: number): (i: number) => number {
  const dense = stridesOf(shape);
  return (i) => {
    let target = start;
    let rest = i;
    for (let d = 0; d < shape.length; d++) {
      const coordinate = Math.floor(rest / dense[d]);
      rest -= coordinate * dense[d];
      target += coordinate * strides[d];
    }
    return target;
  };
}

/** Joins storages along `axis`; all shapes agree except on that axis. */
export function concat(parts: readonly Storage[], shapes: readonly (readonly number[])[], axis: number, dtype: StorageDType): Storage {
  const outer = sizeOf(shapes[0].slice(0, axis));
  const widths = shapes.map((s) => sizeOf(s.slice(axis)));
  const rowWidth = widths.reduce((a, b) => a + b, 0);
  const out = allocate(dtype, outer * rowWidth);

  for (let o = 0; o < outer; o++) {
    let column = o * rowWidth;
    for (let p = 0; p < parts.length; p++) {
      out.set(parts[p].subarray(o * widths[p], (o + 1) * widths[p]), column);
      column += widths[p];
    }
  }
  return out;
}

/** Checks that an index lies in `[0, n)`, naming the op, position and valid range otherwise. */
function checkIndex(op: string, index: number, position: number, n: number): void {
  if (index < 0 || index >= n) {
    throw new IndexError(`${op}: index ${index} at position ${position} is out of range for an axis of size ${n}; valid indices are 0..${n - 1}`);
  }
}

/** `out[o, j, i] = x[o, indices[j], i]` where `o` runs over the axes before `axis` and `i` over those after. */
export function gather(x: Storage, shape: readonly number[], indices: Storage, axis: number, dtype: StorageDType): Storage {
  const outer = sizeOf(shape.slice(0, axis));
  const inner = sizeOf(shape.slice(axis + 1));
  const n = shape[axis];
  const m = indices.length;
  const out = allocate(dtype, outer * m * inner);

  for (let j = 0; j < m; j++) checkIndex("gather", indices[j], j, n);
  for (let o = 0; o < outer; o++) {
    for (let j = 0; j < m; j++) {
      const source = (o * n + indices[j]) * inner;
      out.set(x.subarray(source, source + inner), (o * m + j) * inner);
    }
  }
  return out;
}

/** Returns a copy of `operand` with `out[o, indices[j], i] += updates[o, j, i]`; duplicate indices add up. */
export function scatterAdd(
  operand: Storage,
  shape: readonly number[],
  indices: Storage,
  updates: Storage,
  axis: number,
  dtype: StorageDType,
): Storage {
  const outer = sizeOf(shape.slice(0, axis));
  const inner = sizeOf(shape.slice(axis + 1));
  const n = shape[axis];
  const m = indices.length;
  const acc = Float64Array.from(operand);

  for (let j = 0; j < m; j++) checkIndex("scatterAdd", indices[j], j, n);
  for (let o = 0; o < outer; o++) {
    for (let j = 0; j < m; j++) {
      const target = (o * n + indices[j]) * inner;
      const source = (o * m + j) * inner;
      for (let i = 0; i < inner; i++) acc[target + i] += updates[source + i];
    }
  }

  const out = allocate(dtype, acc.length);
  out.set(acc);
  return out;
}
