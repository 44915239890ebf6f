// Reference reductions over an axis set, accumulating in float64.

import { allocate, sizeOf, type Storage, type StorageDType } from "../storage.js";

export type ReduceKind = "sum" | "max" | "min" | "prod";

const initial: Record<ReduceKind, number> = { sum: 0, prod: 1, max: -Infinity, min: Infinity };

/** Visits every element of `shape` in row-major order with the flat index of its reduced output. */
function forEachWithOutputIndex(shape: readonly number[], axes: readonly number[], visit: (i: number, o: number) => void): void {
  const rank = shape.length;
  const reduced = new Set(axes);
  const outStrides = new Array<number>(rank).fill(0);
  let stride = 1;
  for (let d = rank - 1; d >= 0; d--) {
    if (reduced.has(d)) continue;
    outStrides[d] = stride;
    stride *= shape[d];
  }

  const total = sizeOf(shape);
  const counter = new Array<number>(rank).fill(0);
  let o = 0;
  for (let i = 0; i < total; i++) {
    visit(i, o);
    for (let d = rank - 1; d >= 0; d--) {
      counter[d]++;
      o += outStrides[d];
      if (counter[d] < shape[d]) break;
      o -= outStrides[d] * shape[d];
      counter[d] = 0;
    }
  }
}

/** Output size when `axes` of `shape` are removed. */
function reducedSize(shape: readonly number[], axes: readonly number[]): number {
  return sizeOf(shape.filter((_, d) => !axes.includes(d)));
}

/**
 * Reduces `axes` of `x`; NaN propagates through max and min as in PyTorch. int32 sum and prod wrap
 * around modulo 2^32 at every step, as int32 arithmetic does, so that no float64 rounding enters.
 */
export function reduce(x: Storage, shape: readonly number[], axes: readonly number[], kind: ReduceKind, dtype: StorageDType): Storage {
  if (dtype === "int32" && (kind === "sum" || kind === "prod")) return reduceInt32(x, shape, axes, kind);
  const acc = new Float64Array(reducedSize(shape, axes)).fill(initial[kind]);

  switch (kind) {
    case "sum":
      forEachWithOutputIndex(shape, axes, (i, o) => (acc[o] += x[i]));
      break;
    case "prod":
      forEachWithOutputIndex(shape, axes, (i, o) => (acc[o] *= x[i]));
      break;
    case "max":
      forEachWithOutputIndex(shape, axes, (i, o) => (acc[o] = x[i] > acc[o] || Number.isNaN(x[i]) ? x[i] : acc[o]));
      break;
    case "min":
      forEachWithOutputIndex(shape, axes, (i, o) => (acc[o] = x[i] < acc[o] || Number.isNaN(x[i]) ? x[i] : acc[o]));
      break;
    default:
      return kind satisfies never;
  }

  const out = allocate(dtype, acc.length);
  for (let o = 0; o < acc.length; o++) out[o] = acc[o];
  return out;
}

function reduceInt32(x: Storage, shape: readonly number[], axes: readonly number[], kind: "sum" | "prod"): Int32Array {
  const acc = new Int32Array(reducedSize(shape, axes)).fill(initial[kind]);
  if (kind === "sum") forEachWithOutputIndex(shape, axes, (i, o) => (acc[o] = (acc[o] + x[i]) | 0));
  else forEachWithOutputIndex(shape, axes, (i, o) => (acc[o] = Math.imul(acc[o], x[i])));
  return acc;
}

/** Index of the maximum (or minimum) along `axis`; the first index wins ties and NaN counts as the extreme. */
export function argReduce(x: Storage, shape: readonly number[], axis: number, kind: "max" | "min"): Int32Array {
  const best = new Float64Array(reducedSize(shape, [axis])).fill(kind === "max" ? -Infinity : Infinity);
  const index = new Int32Array(best.length).fill(-1);
  const inner = sizeOf(shape.slice(axis + 1));
  const n = shape[axis];

  forEachWithOutputIndex(shape, [axis], (i, o) => {
    const position = Math.floor(i / inner) % n;
    const v = x[i];
    if (Number.isNaN(best[o])) return;
    const better = Number.isNaN(v) || (kind === "max" ? v > best[o] : v < best[o]) || index[o] < 0;
    if (better) {
      best[o] = v;
      index[o] = position;
    }
  });
  return index;
}
