// Row kernels over the last axis of a float32 [rows, cols] tensor: softmax, logSoftmax, and the
// cross-entropy of logits against int32 class labels.

import { CodeBuilder, type Local } from "../emitter/code.js";
import { ModuleBuilder } from "../emitter/module.js";
import { compileKernel, instantiate, type CompiledKernel } from "../kernel.js";
import { emitFor } from "../loops.js";
import { emitExp, emitLog } from "../math/f32x4.js";
import { f32x4Const, keep } from "../math/vector.js";
import { forEachVector, loadRow, pushHorizontal, setRowPointer, storeRow } from "./common.js";

export type SoftmaxKind = "softmax" | "logSoftmax";

export interface RowKernel<Args extends number[]> {
  readonly key: string;
  readonly kernel: CompiledKernel;
  run(memory: WebAssembly.Memory, ...offsets: Args): number;
}

function rowKernel<Args extends number[]>(key: string, build: () => ModuleBuilder): RowKernel<Args> {
  const kernel = compileKernel(key, build);
  return {
    key,
    kernel,
    run: (memory, ...offsets) => ((instantiate(kernel, memory).exports.run as (...a: number[]) => number | undefined)(...offsets) ?? 0),
  };
}

/** softmax or logSoftmax of each row: run(input, output). */
export function softmaxKernel(kind: SoftmaxKind, rows: number, cols: number): RowKernel<[number, number]> {
  return rowKernel(`${kind} f32 rows=${rows} cols=${cols}`, () => {
    const c = new CodeBuilder([["input", "i32"], ["output", "i32"]]);
    const state = rowState(c);
    emitFor(c, state.row, rows, 1, () => {
      setRowPointer(c, state.x, c.param(0), state.row, cols * 4);
      emitRowMaxAndSum(c, state, cols, kind === "softmax" ? c.param(1) : undefined);
      if (kind === "softmax") emitScale(c, state, cols, c.param(1));
      else emitShift(c, state, cols, c.param(1));
    });
    return single(c);
  });
}

/**
 * Cross-entropy per row: run(logits, labels, loss) writes loss[r] = logsumexp(logits[r]) - logits[r, labels[r]]
 * and returns 0, or returns 1 + r for the first row whose label is outside [0, cols).
 */
export function crossEntropyKernel(rows: number, cols: number): RowKernel<[number, number, number]> {
  return rowKernel(`crossEntropy f32 rows=${rows} cols=${cols}`, () => {
    const c = new CodeBuilder([["logits", "i32"], ["labels", "i32"], ["loss", "i32"]], ["i32"]);
    const [logits, labels, loss] = c.params;
    const state = rowState(c);
    const label = c.local("i32", "label");
    emitFor(c, state.row, rows, 1, () => {
      c.get(labels).get(state.row).i32(4).op("i32.mul").op("i32.add").mem("i32.load").tee(label);
      c.i32(cols).op("i32.ge_u");
      c.if();
      c.get(state.row).i32(1).op("i32.add").op("return");
      c.end();
      setRowPointer(c, state.x, logits, state.row, cols * 4);
      emitRowMaxAndSum(c, state, cols, undefined);
      // loss = max + log(sum) - x[label]
      c.get(loss).get(state.row).i32(4).op("i32.mul").op("i32.add");
      c.get(state.max).get(state.logSum).op("f32.add");
      c.get(logits).get(state.row).i32(cols * 4).op("i32.mul").op("i32.add").get(label).i32(4).op("i32.mul").op("i32.add").mem("f32.load");
      c.op("f32.sub").mem("f32.store");
    });
    c.i32(0);
    return single(c);
  });
}

interface RowState {
  readonly row: Local;
  readonly j: Local;
  readonly x: Local;
  readonly y: Local;
  readonly max: Local;
  readonly sum: Local;
  readonly logSum: Local;
  readonly relaxed: false;
}

function rowState(c: CodeBuilder): RowState {
  return {
    row: c.local("i32", "row"), j: c.local("i32", "j"), x: c.local("i32", "x"), y: c.local("i32", "y"),
    max: c.local("f32", "max"), sum: c.local("f32", "sum"), logSum: c.local("f32", "logSum"), relaxed: false,
  };
}

function single(c: CodeBuilder): ModuleBuilder {
  const module = new ModuleBuilder();
  module.addFunction("run", c);
  return module;
}

/**
 * Sets max = max of the row (NaN propagates) and sum = sum of exp(x - max), writing exp(x - max)
 * to `output` when given; also sets logSum = log(sum). Leaves `x` at the row start.
 */
function emitRowMaxAndSum(c: CodeBuilder, s: RowState, cols: number, output: Local | undefined): void {
  const start = c.local("i32", "rowStart");
  c.get(s.x).set(start);
  f32x4Const(c, -Infinity);
  const maxVector = keep(c, "maxVector");
  forEachVector(c, s.j, cols, [s.x], (lanes) => {
    const v = loadRow(c, s.x, lanes, -Infinity);
    c.get(maxVector).get(v).simd("f32x4.max").set(maxVector);
  });
  pushHorizontal(c, maxVector, "f32.max");
  c.set(s.max);

  c.get(start).set(s.x);
  if (output !== undefined) setRowPointer(c, s.y, output, s.row, cols * 4);
  c.get(s.max).simd("f32x4.splat");
  const shift = keep(c, "shift");
  f32x4Const(c, 0);
  const sumVector = keep(c, "sumVector");
  forEachVector(c, s.j, cols, output === undefined ? [s.x] : [s.x, s.y], (lanes) => {
    const v = loadRow(c, s.x, lanes, -Infinity);
    c.get(v).get(shift).simd("f32x4.sub").set(v);
    const e = emitExp(c, v, s.relaxed);
    c.get(sumVector).get(e).simd("f32x4.add").set(sumVector);
    if (output !== undefined) storeRow(c, s.y, e, lanes);
  });
  pushHorizontal(c, sumVector, "f32.add");
  c.set(s.sum);
  c.get(s.sum).simd("f32x4.splat");
  const sumSplat = keep(c, "sumSplat");
  c.get(emitLog(c, sumSplat, s.relaxed)).lane("f32x4.extract_lane", 0).set(s.logSum);
  c.get(start).set(s.x);
}

/** output /= sum, in place over the exponentials written by emitRowMaxAndSum. */
function emitScale(c: CodeBuilder, s: RowState, cols: number, output: Local): void {
  setRowPointer(c, s.y, output, s.row, cols * 4);
  c.get(s.sum).simd("f32x4.splat");
  const sum = keep(c, "sum");
  forEachVector(c, s.j, cols, [s.y], (lanes) => {
    const v = loadRow(c, s.y, lanes, 0);
    c.get(v).get(sum).simd("f32x4.div").set(v);
    storeRow(c, s.y, v, lanes);
  });
}

/** output = x - max - log(sum). */
function emitShift(c: CodeBuilder, s: RowState, cols: number, output: Local): void {
  setRowPointer(c, s.y, output, s.row, cols * 4);
  c.get(s.max).get(s.logSum).op("f32.add").simd("f32x4.splat");
  const shift = keep(c, "shift");
  forEachVector(c, s.j, cols, [s.x, s.y], (lanes) => {
    const v = loadRow(c, s.x, lanes, 0);
    c.get(v).get(shift).simd("f32x4.sub").set(v);
    storeRow(c, s.y, v, lanes);
  });
}
