// Reference softmax and logSoftmax along one axis, accumulating in float64.

import { allocate, sizeOf, type Storage, type StorageDType } from "../storage.js";

export type SoftmaxKind = "softmax" | "logSoftmax";

/**
 * Normalizes every line of `shape` along `axis`. Each line is shifted by its maximum, as PyTorch does,
 * so a line that contains +Infinity or is all -Infinity gives NaN everywhere.
 */
export function softmaxAlong(x: Storage, shape: readonly number[], axis: number, kind: SoftmaxKind, dtype: StorageDType): Storage {
  const out = allocate(dtype, sizeOf(shape));
  const length = shape[axis];
  const inner = sizeOf(shape.slice(axis + 1));
  const outer = sizeOf(shape.slice(0, axis));
  for (let o = 0; o < outer; o++) {
    for (let i = 0; i < inner; i++) {
      const start = o * length * inner + i;
      let max = -Infinity;
      for (let j = 0; j < length; j++) max = maxPropagatingNaN(max, x[start + j * inner]);
      let sum = 0;
      for (let j = 0; j < length; j++) sum += Math.exp(x[start + j * inner] - max);
      const logSum = Math.log(sum);
      for (let j = 0; j < length; j++) {
        const shifted = x[start + j * inner] - max;
        out[start + j * inner] = kind === "softmax" ? Math.exp(shifted) / sum : shifted - logSum;
      }
    }
  }
  return out;
}

function maxPropagatingNaN(a: number, b: number): number {
  return Number.isNaN(a) || Number.isNaN(b) ? NaN : Math.max(a, b);
}
