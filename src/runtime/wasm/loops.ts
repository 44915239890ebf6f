// Loop and addressing helpers shared by the kernel generators. Every size is a compile-time constant.

import type { CodeBuilder, Local } from "./emitter/code.js";

/** Emits `for (counter = 0; counter < count; counter += step) body()`, nothing when count <= 0. */
export function emitFor(c: CodeBuilder, counter: Local, count: number, step: number, body: () => void): void {
  if (count <= 0) return;
  c.i32(0).set(counter);
  const loop = c.loop();
  body();
  c.get(counter).i32(step).op("i32.add").tee(counter).i32(count).op("i32.lt_s").brIf(loop);
  c.end();
}

/** Emits `local += delta` for an i32 local. */
export function emitAdd(c: CodeBuilder, local: Local, delta: number): void {
  if (delta === 0) return;
  c.get(local).i32(delta).op("i32.add").set(local);
}

/**
 * Pushes the byte offset of flat row-major index `index` of `shape` in a view with `strides` (in elements):
 * sum_d ((index / inner_d) % shape[d]) * strides[d] * itemBytes. Axes of size 1 or stride 0 cost nothing.
 */
export function emitStridedOffset(c: CodeBuilder, index: Local, shape: readonly number[], strides: readonly number[], itemBytes: number): void {
  c.i32(0);
  let inner = 1;
  for (let d = shape.length - 1; d >= 0; d--) {
    const size = shape[d];
    if (size !== 1 && strides[d] !== 0) {
      c.get(index);
      if (inner !== 1) c.i32(inner).op("i32.div_u");
      if (d > 0) c.i32(size).op("i32.rem_u");
      c.i32(strides[d] * itemBytes).op("i32.mul").op("i32.add");
    }
    inner *= size;
  }
}

/**
 * Merges neighbouring axes that every view walks contiguously (stride[d] = stride[d+1] * shape[d+1])
 * and drops axes of size 1. Returns at least one axis.
 */
export function collapseAxes(shape: readonly number[], stridesList: readonly (readonly number[])[]): { shape: number[]; strides: number[][] } {
  const outShape: number[] = [];
  const outStrides: number[][] = stridesList.map(() => []);
  for (let d = 0; d < shape.length; d++) {
    if (shape[d] === 1) continue;
    const last = outShape.length - 1;
    const mergeable = last >= 0 && stridesList.every((s, k) => outStrides[k][last] === s[d] * shape[d]);
    if (mergeable) {
      outShape[last] *= shape[d];
      stridesList.forEach((s, k) => (outStrides[k][last] = s[d]));
    } else {
      outShape.push(shape[d]);
      stridesList.forEach((s, k) => outStrides[k].push(s[d]));
    }
  }
  if (outShape.length === 0) return { shape: [1], strides: stridesList.map(() => [0]) };
  return { shape: outShape, strides: outStrides };
}

/** Row-major strides in elements of a dense tensor of `shape`. */
export function denseStrides(shape: readonly number[]): number[] {
  const strides = new Array<number>(shape.length);
  let stride = 1;
  for (let d = shape.length - 1; d >= 0; d--) {
    strides[d] = stride;
    stride *= shape[d];
  }
  return strides;
}
