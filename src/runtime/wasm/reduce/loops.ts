// The two loop orders of the reduce kernel. Both evaluate the prologue expression on four lanes at a
// time, reading every input through its own strides, and fold the lanes into float64 (sum, prod) or
// input-dtype (max, min) accumulators, so no intermediate tensor is written.

import { itemSize, sizeOf } from "../../storage.js";
import type { CodeBuilder, Local } from "../emitter/code.js";
import { emitExpr } from "../elementwise/evaluate.js";
import type { Expr, InputSpec } from "../elementwise/ir.js";
import type { LaneContext, Value } from "../elementwise/lanes.js";
import { emitLoad, emitStore } from "../elementwise/memory-access.js";
import { emitAdd, emitFor, emitStridedOffset } from "../loops.js";
import { foldLanes, laneAccumulator, scalarIdentity, scalarOp, type FloatDType, type ReduceKind } from "./accumulate.js";

/** A group of axes (kept or reduced), collapsed where every input walks them contiguously. */
export interface AxisGroup {
  readonly shape: readonly number[];
  /** Strides in elements, one list per input, one stride per axis of `shape`. */
  readonly strides: readonly (readonly number[])[];
}

/** The state both loop orders share: the expression, its inputs, and one base and one read pointer per input. */
export class Prologue {
  readonly c: CodeBuilder;
  /** Byte address of each input at the start of the current output (or column group). */
  readonly bases: readonly Local[];
  /** Byte address of each input at the current reduced index. */
  readonly pointers: readonly Local[];

  constructor(
    readonly ctx: LaneContext,
    readonly inputs: readonly InputSpec[],
    readonly expr: Expr,
    readonly kind: ReduceKind,
    readonly dtype: FloatDType,
  ) {
    this.c = ctx.c;
    this.bases = inputs.map(() => this.c.local("i32", "base"));
    this.pointers = inputs.map(() => this.c.local("i32", "pointer"));
  }

  /** Sets every base to its parameter plus the offset of flat index `index` within `group`. */
  setBases(index: Local, group: AxisGroup): void {
    this.inputs.forEach((input, k) => {
      this.c.get(this.c.param(k));
      emitStridedOffset(this.c, index, group.shape, group.strides[k], itemSize(input.dtype));
      this.c.op("i32.add").set(this.bases[k]);
    });
  }

  /** Sets every pointer to its base plus the offset of flat index `index` within `group`. */
  setPointers(index: Local, group: AxisGroup): void {
    this.inputs.forEach((input, k) => {
      this.c.get(this.bases[k]);
      emitStridedOffset(this.c, index, group.shape, group.strides[k], itemSize(input.dtype));
      this.c.op("i32.add").set(this.pointers[k]);
    });
  }

  /** Moves each of `locals` forward by `lanes` elements along an axis with the given per-input strides. */
  advance(locals: readonly Local[], strides: readonly number[], lanes: number): void {
    this.inputs.forEach((input, k) => emitAdd(this.c, locals[k], lanes * strides[k] * itemSize(input.dtype)));
  }

  load(k: number, pointer: Local, stride: number, lanes: number): Value {
    return emitLoad(this.c, this.inputs[k].dtype, pointer, stride, lanes);
  }

  /** Evaluates the expression on the lanes that `load` reads, computing shared nodes once. */
  evaluate(load: (k: number) => Value): Value {
    return emitExpr(this.ctx, this.expr, new Map(), load);
  }

  /** Pushes the output address `output + index * count * bytes`. */
  pushOutputAddress(index: Local, count: number): void {
    this.c.get(this.c.param(this.inputs.length)).get(index).i32(count * itemSize(this.dtype)).op("i32.mul").op("i32.add");
  }
}

/**
 * Last axis reduced: each output folds runs along the last reduced axis, four lanes per step with two
 * accumulators that hide the latency of the add chain. Inputs broadcast along the run are loaded once per run.
 */
export function emitRunsPerOutput(p: Prologue, kept: AxisGroup, reduced: AxisGroup): void {
  const { c, kind, dtype } = p;
  const last = reduced.shape.length - 1;
  const run = reduced.shape[last];
  const outer: AxisGroup = { shape: reduced.shape.slice(0, -1), strides: reduced.strides.map((s) => s.slice(0, -1)) };
  const runStrides = reduced.strides.map((s) => s[last]);
  const o = c.local("i32", "o");
  const r = c.local("i32", "r");
  const t = c.local("i32", "t");
  const scalar = c.local("f64", "scalar");
  const acc = [laneAccumulator(c, kind, dtype), laneAccumulator(c, kind, dtype)];
  const pairs = Math.floor(run / 8);
  const single = Math.floor(run / 4) % 2 === 1;
  const tail = run % 4;

  emitFor(c, o, sizeOf(kept.shape), 1, () => {
    p.setBases(o, kept);
    acc.forEach((a) => a.reset());
    c.f64(scalarIdentity(kind)).set(scalar);
    emitFor(c, r, sizeOf(outer.shape), 1, () => {
      p.setPointers(r, outer);
      const broadcast = new Map<number, Value>();
      runStrides.forEach((stride, k) => {
        if (stride === 0) broadcast.set(k, p.load(k, p.pointers[k], 0, 4));
      });
      const step = (lanes: number): Value => {
        const value = p.evaluate((k) => broadcast.get(k) ?? p.load(k, p.pointers[k], runStrides[k], lanes));
        p.advance(p.pointers, runStrides, lanes);
        return value;
      };
      emitFor(c, t, pairs, 1, () => {
        acc[0].fold(step(4));
        acc[1].fold(step(4));
      });
      if (single) acc[0].fold(step(4));
      // The tail's missing lanes hold the expression of zeros, so only its real lanes are folded.
      if (tail > 0) foldLanes(c, kind, step(tail), tail, scalar);
    });
    acc[0].merge(acc[1]);
    p.pushOutputAddress(o, 1);
    storeScalar(c, dtype, () => {
      acc[0].pushHorizontal();
      c.get(scalar).op(scalarOp(kind));
    });
  });
}

/**
 * Last axis kept: four neighbouring outputs along it share each evaluation, one per reduced index. A
 * row's last one to three outputs run the same code on fewer lanes and store only those lanes.
 */
export function emitColumnsPerVector(p: Prologue, kept: AxisGroup, reduced: AxisGroup): void {
  const { c, kind, dtype } = p;
  const last = kept.shape.length - 1;
  const width = kept.shape[last];
  const outer: AxisGroup = { shape: kept.shape.slice(0, -1), strides: kept.strides.map((s) => s.slice(0, -1)) };
  const columnStrides = kept.strides.map((s) => s[last]);
  // Inputs that do not vary along the reduced axes are loaded once per column group.
  const invariant = reduced.strides.map((strides, k) => strides.every((s, d) => s === 0 || reduced.shape[d] === 1) ? k : -1).filter((k) => k >= 0);
  const o = c.local("i32", "o");
  const j = c.local("i32", "j");
  const r = c.local("i32", "r");
  const outPointer = c.local("i32", "outPointer");
  const acc = laneAccumulator(c, kind, dtype);

  const columnGroup = (lanes: number): void => {
    acc.reset();
    const fixed = new Map(invariant.map((k) => [k, p.load(k, p.bases[k], columnStrides[k], lanes)]));
    emitFor(c, r, sizeOf(reduced.shape), 1, () => {
      p.setPointers(r, reduced);
      acc.fold(p.evaluate((k) => fixed.get(k) ?? p.load(k, p.pointers[k], columnStrides[k], lanes)));
    });
    emitStore(c, acc.lanes(), outPointer, lanes);
    emitAdd(c, outPointer, lanes * itemSize(dtype));
  };
  emitFor(c, o, sizeOf(outer.shape), 1, () => {
    p.setBases(o, outer);
    p.pushOutputAddress(o, width);
    c.set(outPointer);
    emitFor(c, j, Math.floor(width / 4), 1, () => {
      columnGroup(4);
      p.advance(p.bases, columnStrides, 4);
    });
    if (width % 4 !== 0) columnGroup(width % 4);
  });
}

export function storeScalar(c: CodeBuilder, dtype: FloatDType, pushF64: () => void): void {
  pushF64();
  if (dtype === "float32") c.op("f32.demote_f64").mem("f32.store");
  else c.mem("f64.store");
}
