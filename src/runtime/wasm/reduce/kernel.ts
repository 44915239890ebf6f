// Reductions (sum, prod, max, min) of a dense float32 or float64 tensor over any set of axes.
//
// When the last axis is reduced, each output folds contiguous runs four float32 (two float64) lanes
// at a time. When the last axis is kept, four neighbouring outputs are folded together, one vector
// load per reduced index. Axes are grouped first, so sum over (1, 2) of [A, B, C] is one run per output.

import { IndexError } from "../../errors.js";
import { itemSize, sizeOf } from "../../storage.js";
import { CodeBuilder, type Local } from "../emitter/code.js";
import { ModuleBuilder } from "../emitter/module.js";
import { compileKernel, instantiate, type CompiledKernel } from "../kernel.js";
import { collapseAxes, denseStrides, emitFor, emitStridedOffset } from "../loops.js";
import { scalarIdentity, scalarOp, vectorAccumulator, type FloatDType, type ReduceKind } from "./accumulate.js";

export interface ReduceSpec {
  readonly shape: readonly number[];
  readonly axes: readonly number[];
  readonly kind: ReduceKind;
  readonly dtype: FloatDType;
}

export interface ReduceKernel {
  readonly key: string;
  readonly kernel: CompiledKernel;
  /** Reduces the dense input at byte offset `input` into the dense output (kept axes in order) at `output`. */
  run(memory: WebAssembly.Memory, input: number, output: number): void;
}

export function reduceKernel(spec: ReduceSpec): ReduceKernel {
  for (const axis of spec.axes) {
    if (!Number.isInteger(axis) || axis < 0 || axis >= spec.shape.length) {
      throw new IndexError(`reduce ${spec.kind}: axis ${axis} is out of range for shape [${spec.shape.join(", ")}]; normalise negative axes before building the kernel`);
    }
  }
  const axes = [...new Set(spec.axes)].sort((a, b) => a - b);
  const key = `reduce ${spec.kind} ${spec.dtype} shape=[${spec.shape.join(",")}] axes=[${axes.join(",")}]`;
  const kernel = compileKernel(key, () => buildReduce({ ...spec, axes }));
  return {
    key,
    kernel,
    run(memory, input, output) {
      (instantiate(kernel, memory).exports.run as (a: number, b: number) => void)(input, output);
    },
  };
}

interface Groups {
  keptShape: number[];
  keptStrides: number[];
  reducedShape: number[];
  reducedStrides: number[];
}

/** Splits the axes into kept and reduced groups, each collapsed where contiguous. */
function groupAxes(spec: ReduceSpec): Groups {
  const strides = denseStrides(spec.shape);
  const pick = (reduced: boolean): { shape: number[]; strides: number[] } => {
    const dims = spec.shape.map((_, d) => d).filter((d) => spec.axes.includes(d) === reduced);
    const collapsed = collapseAxes(dims.map((d) => spec.shape[d]), [dims.map((d) => strides[d])]);
    return { shape: collapsed.shape, strides: collapsed.strides[0] };
  };
  const kept = pick(false);
  const reduced = pick(true);
  return { keptShape: kept.shape, keptStrides: kept.strides, reducedShape: reduced.shape, reducedStrides: reduced.strides };
}

function buildReduce(spec: ReduceSpec): ModuleBuilder {
  const c = new CodeBuilder([["input", "i32"], ["output", "i32"]]);
  const groups = groupAxes(spec);
  // The innermost axis longer than 1 has stride 1; whether it is reduced picks the loop order.
  let innermost = spec.shape.length - 1;
  while (innermost >= 0 && spec.shape[innermost] === 1) innermost--;
  const lastReduced = innermost >= 0 && spec.axes.includes(innermost);
  if (sizeOf(spec.shape) === 0) {
    // NOTE: an empty input has nothing to read; outputs of an empty reduction get the identity.
    fillIdentity(c, spec, sizeOf(groups.keptShape));
  } else if (lastReduced) emitRunsPerOutput(c, spec, groups);
  else emitColumnsPerVector(c, spec, groups);
  const module = new ModuleBuilder();
  module.addFunction("run", c);
  return module;
}

function fillIdentity(c: CodeBuilder, spec: ReduceSpec, outputs: number): void {
  const i = c.local("i32", "i");
  emitFor(c, i, outputs, 1, () => {
    c.get(c.param(1)).get(i).i32(itemSize(spec.dtype)).op("i32.mul").op("i32.add");
    storeScalar(c, spec.dtype, () => c.f64(scalarIdentity(spec.kind)));
  });
}

function storeScalar(c: CodeBuilder, dtype: FloatDType, pushF64: () => void): void {
  pushF64();
  if (dtype === "float32") c.op("f32.demote_f64").mem("f32.store");
  else c.mem("f64.store");
}

function loadScalarAsF64(c: CodeBuilder, dtype: FloatDType, offset = 0): void {
  if (dtype === "float32") c.mem("f32.load", offset).op("f64.promote_f32");
  else c.mem("f64.load", offset);
}

/** Last axis reduced: every output folds runs of `run` contiguous elements. */
function emitRunsPerOutput(c: CodeBuilder, spec: ReduceSpec, g: Groups): void {
  const [input, output] = c.params;
  const bytes = itemSize(spec.dtype);
  const lanes = 16 / bytes;
  const run = g.reducedShape[g.reducedShape.length - 1];
  const outerShape = g.reducedShape.slice(0, -1);
  const outerStrides = g.reducedStrides.slice(0, -1);
  const outputs = sizeOf(g.keptShape);
  const o = c.local("i32", "o");
  const r = c.local("i32", "r");
  const t = c.local("i32", "t");
  const base = c.local("i32", "base");
  const pointer = c.local("i32", "pointer");
  const scalar = c.local("f64", "scalar");
  const acc = [vectorAccumulator(c, spec.kind, spec.dtype), vectorAccumulator(c, spec.kind, spec.dtype)];
  const pairs = Math.floor(run / (2 * lanes));
  const single = Math.floor(run / lanes) % 2;
  const tail = run % lanes;

  emitFor(c, o, outputs, 1, () => {
    c.get(input);
    emitStridedOffset(c, o, g.keptShape, g.keptStrides, bytes);
    c.op("i32.add").set(base);
    acc.forEach((a) => a.reset());
    c.f64(scalarIdentity(spec.kind)).set(scalar);
    emitFor(c, r, sizeOf(outerShape), 1, () => {
      c.get(base);
      emitStridedOffset(c, r, outerShape, outerStrides, bytes);
      c.op("i32.add").set(pointer);
      // Two accumulators hide the latency of the add chain.
      emitFor(c, t, pairs, 1, () => {
        c.get(pointer).vmem("v128.load");
        acc[0].fold();
        c.get(pointer).vmem("v128.load", 16);
        acc[1].fold();
        c.get(pointer).i32(32).op("i32.add").set(pointer);
      });
      if (single) {
        c.get(pointer).vmem("v128.load");
        acc[0].fold();
        c.get(pointer).i32(16).op("i32.add").set(pointer);
      }
      for (let k = 0; k < tail; k++) {
        c.get(scalar).get(pointer);
        loadScalarAsF64(c, spec.dtype, k * bytes);
        c.op(scalarOp(spec.kind)).set(scalar);
      }
    });
    acc[0].merge(acc[1]);
    c.get(output).get(o).i32(bytes).op("i32.mul").op("i32.add");
    storeScalar(c, spec.dtype, () => {
      acc[0].pushHorizontal();
      c.get(scalar).op(scalarOp(spec.kind));
    });
  });
}

/** Last axis kept: `lanes` neighbouring outputs share each vector load. */
function emitColumnsPerVector(c: CodeBuilder, spec: ReduceSpec, g: Groups): void {
  const [input, output] = c.params;
  const bytes = itemSize(spec.dtype);
  const lanes = 16 / bytes;
  const width = g.keptShape[g.keptShape.length - 1];
  const outerShape = g.keptShape.slice(0, -1);
  const outerStrides = g.keptStrides.slice(0, -1);
  const reducedCount = sizeOf(g.reducedShape);
  const o = c.local("i32", "o");
  const j = c.local("i32", "j");
  const r = c.local("i32", "r");
  const base = c.local("i32", "base");
  const outPointer = c.local("i32", "outPointer");
  const scalar = c.local("f64", "scalar");
  const acc = vectorAccumulator(c, spec.kind, spec.dtype);

  const reducedAddress = (column: Local | number): void => {
    c.get(base);
    emitStridedOffset(c, r, g.reducedShape, g.reducedStrides, bytes);
    c.op("i32.add");
    if (typeof column === "number") c.i32(column * bytes).op("i32.add");
    else c.get(column).i32(lanes * bytes).op("i32.mul").op("i32.add");
  };
  emitFor(c, o, sizeOf(outerShape), 1, () => {
    c.get(input);
    emitStridedOffset(c, o, outerShape, outerStrides, bytes);
    c.op("i32.add").set(base);
    c.get(output).get(o).i32(width * bytes).op("i32.mul").op("i32.add").set(outPointer);
    emitFor(c, j, Math.floor(width / lanes), 1, () => {
      acc.reset();
      emitFor(c, r, reducedCount, 1, () => {
        reducedAddress(j);
        c.vmem("v128.load");
        acc.fold();
      });
      c.get(outPointer);
      acc.pushLanes();
      c.vmem("v128.store");
      c.get(outPointer).i32(16).op("i32.add").set(outPointer);
    });
    for (let column = width - (width % lanes); column < width; column++) {
      c.f64(scalarIdentity(spec.kind)).set(scalar);
      emitFor(c, r, reducedCount, 1, () => {
        c.get(scalar);
        reducedAddress(column);
        loadScalarAsF64(c, spec.dtype);
        c.op(scalarOp(spec.kind)).set(scalar);
      });
      c.get(outPointer);
      storeScalar(c, spec.dtype, () => c.get(scalar));
      c.get(outPointer).i32(bytes).op("i32.add").set(outPointer);
    }
  });
}
