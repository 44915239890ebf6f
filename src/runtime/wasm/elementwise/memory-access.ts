// Loads and stores of four lanes (or the first `lanes` of them, for a row's tail) in every storage dtype.

import { itemSize, type StorageDType } from "../../storage.js";
import type { CodeBuilder, Local } from "../emitter/code.js";
import { i32x4Const, keep } from "../math/vector.js";
import type { Value } from "./lanes.js";

/**
 * Loads lanes 0..lanes-1 of `dtype` from `pointer` with `stride` elements between them; missing lanes are 0.
 * A stride of 0 broadcasts one element to every lane.
 */
export function emitLoad(c: CodeBuilder, dtype: StorageDType, pointer: Local, stride: number, lanes: number): Value {
  if (dtype === "float64") return { dtype, parts: [loadHalf(c, pointer, stride, 0, lanes), loadHalf(c, pointer, stride, 2, lanes)] };
  if (dtype === "bool") return { dtype, parts: [loadBool(c, pointer, stride, lanes)] };

  if (stride === 0) c.get(pointer).vmem("v128.load32_splat");
  else if (stride === 1 && lanes === 4) c.get(pointer).vmem("v128.load");
  else {
    pushAddress(c, pointer, 0);
    c.vmem("v128.load32_zero");
    for (let k = 1; k < lanes; k++) {
      const local = keep(c, "partial");
      pushAddress(c, pointer, k * stride * 4);
      c.get(local).vmemLane("v128.load32_lane", k);
    }
  }
  return { dtype, parts: [keep(c, dtype)] };
}

/** Pushes `pointer + offset` (offset in bytes, possibly negative for flipped views). */
function pushAddress(c: CodeBuilder, pointer: Local, offset: number): void {
  c.get(pointer);
  if (offset !== 0) c.i32(offset).op("i32.add");
}

function loadHalf(c: CodeBuilder, pointer: Local, stride: number, first: number, lanes: number): Local {
  const count = Math.max(0, Math.min(2, lanes - first));
  if (stride === 0) c.get(pointer).vmem("v128.load64_splat");
  else if (stride === 1 && count === 2) c.get(pointer).vmem("v128.load", first * 8);
  else if (count === 0) i32x4Const(c, 0);
  else {
    pushAddress(c, pointer, first * stride * 8);
    c.vmem("v128.load64_zero");
    if (count === 2) {
      const local = keep(c, "partial");
      pushAddress(c, pointer, (first + 1) * stride * 8);
      c.get(local).vmemLane("v128.load64_lane", 1);
    }
  }
  return keep(c, "f64");
}

/** Bytes 0/1 become i32x4 masks (0 or all ones); any nonzero byte counts as true. */
function loadBool(c: CodeBuilder, pointer: Local, stride: number, lanes: number): Local {
  i32x4Const(c, 0);
  for (let k = 0; k < (stride === 0 ? 1 : lanes); k++) {
    pushAddress(c, pointer, k * stride);
    c.mem("i32.load8_u").lane("i32x4.replace_lane", k);
  }
  if (stride === 0) c.lane("i32x4.extract_lane", 0).simd("i32x4.splat");
  i32x4Const(c, 0).simd("i32x4.ne");
  return keep(c, "bool");
}

/** Stores lanes 0..lanes-1 of `value` densely at `pointer`. */
export function emitStore(c: CodeBuilder, value: Value, pointer: Local, lanes: number): void {
  const { dtype } = value;
  if (dtype === "bool") return storeBool(c, value.parts[0], pointer, lanes);
  if (dtype === "float64") {
    for (let k = 0; k < lanes; k++) c.get(pointer).get(value.parts[k >> 1]).vmemLane("v128.store64_lane", k & 1, k * 8);
    return;
  }
  if (lanes === 4) {
    c.get(pointer).get(value.parts[0]).vmem("v128.store");
    return;
  }
  for (let k = 0; k < lanes; k++) c.get(pointer).get(value.parts[0]).vmemLane("v128.store32_lane", k, k * itemSize(dtype));
}

function storeBool(c: CodeBuilder, mask: Local, pointer: Local, lanes: number): void {
  const zero = new Array<number>(16).fill(0);
  c.get(mask);
  i32x4Const(c, 1).simd("v128.and");
  c.v128(zero).simd("i16x8.narrow_i32x4_u").v128(zero).simd("i8x16.narrow_i16x8_u");
  const bytes = keep(c, "bytes");
  if (lanes === 4) {
    c.get(pointer).get(bytes).vmemLane("v128.store32_lane", 0);
    return;
  }
  for (let k = 0; k < lanes; k++) c.get(pointer).get(bytes).vmemLane("v128.store8_lane", k, k);
}
