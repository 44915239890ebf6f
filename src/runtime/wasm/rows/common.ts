// Helpers for kernels that walk float32 rows of a compile-time length: vector steps plus one partial step.

import type { CodeBuilder, Local } from "../emitter/code.js";
import { emitFor } from "../loops.js";
import { f32x4Const, keep } from "../math/vector.js";

/**
 * Calls body(4) for every full vector of a row of `length` floats, then body(length % 4) once, advancing
 * each pointer by 16 bytes after every full vector. Pointers must be set to the row start beforehand.
 */
export function forEachVector(c: CodeBuilder, counter: Local, length: number, pointers: readonly Local[], body: (lanes: number) => void): void {
  emitFor(c, counter, Math.floor(length / 4), 1, () => {
    body(4);
    for (const p of pointers) c.get(p).i32(16).op("i32.add").set(p);
  });
  if (length % 4 !== 0) body(length % 4);
}

/** Loads `lanes` floats at `pointer` into a new local; missing lanes hold `fill`. */
export function loadRow(c: CodeBuilder, pointer: Local, lanes: number, fill = 0): Local {
  if (lanes === 4) {
    c.get(pointer).vmem("v128.load");
    return keep(c, "x");
  }
  f32x4Const(c, fill);
  for (let k = 0; k < lanes; k++) c.get(pointer).mem("f32.load", 4 * k).lane("f32x4.replace_lane", k);
  return keep(c, "x");
}

/** Stores the first `lanes` floats of `value` at `pointer`. */
export function storeRow(c: CodeBuilder, pointer: Local, value: Local, lanes: number): void {
  if (lanes === 4) c.get(pointer).get(value).vmem("v128.store");
  else for (let k = 0; k < lanes; k++) c.get(pointer).get(value).vmemLane("v128.store32_lane", k, 4 * k);
}

/** Pushes the f32 combination of the four lanes of `value` with f32.add, f32.max or f32.min. */
export function pushHorizontal(c: CodeBuilder, value: Local, op: "f32.add" | "f32.max"): void {
  c.get(value).lane("f32x4.extract_lane", 0);
  for (let k = 1; k < 4; k++) c.get(value).lane("f32x4.extract_lane", k).op(op);
}

/** Sets `pointer = base + row * stride` bytes. */
export function setRowPointer(c: CodeBuilder, pointer: Local, base: Local, row: Local, strideBytes: number): void {
  c.get(base).get(row).i32(strideBytes).op("i32.mul").op("i32.add").set(pointer);
}
