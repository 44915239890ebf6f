// Reductions (sum, prod, max, min) of a dense int32 tensor over any set of axes, in exact int32
// arithmetic: sum and prod wrap around modulo 2^32 like i32.add and i32.mul, the same rule as the
// reference implementation. The loop structure follows the float kernel in kernel.ts: contiguous runs
// per output when the last axis is reduced, four neighbouring outputs per vector otherwise.

import { IndexError } from "../../errors.js";
import { sizeOf } from "../../storage.js";
import { CodeBuilder, type Local } from "../emitter/code.js";
import { ModuleBuilder } from "../emitter/module.js";
import { compileKernel, instantiate, type CompiledKernel } from "../kernel.js";
import { collapseAxes, denseStrides, emitFor, emitStridedOffset } from "../loops.js";
import { i32x4Const } from "../math/vector.js";
import type { ReduceKind } from "./accumulate.js";

export interface Int32ReduceSpec {
  readonly shape: readonly number[];
  readonly axes: readonly number[];
  readonly kind: ReduceKind;
}

export interface Int32ReduceKernel {
  readonly key: string;
  readonly kernel: CompiledKernel;
  /** Reduces the dense input at byte offset `input` into the dense output (kept axes in order) at `output`. */
  run(memory: WebAssembly.Memory, input: number, output: number): void;
}

/** The identity of each reduction in int32. The max and min of no elements are the int32 minimum and maximum. */
export const int32Identity: Record<ReduceKind, number> = { sum: 0, prod: 1, max: -2147483648, min: 2147483647 };

const vectorOps = { sum: "i32x4.add", prod: "i32x4.mul", max: "i32x4.max_s", min: "i32x4.min_s" } as const;

export function int32ReduceKernel(spec: Int32ReduceSpec): Int32ReduceKernel {
  for (const axis of spec.axes) {
    if (!Number.isInteger(axis) || axis < 0 || axis >= spec.shape.length) {
      throw new IndexError(`reduce ${spec.kind}: axis ${axis} is out of range for shape [${spec.shape.join(", ")}]; normalise negative axes before building the kernel`);
    }
  }
  const axes = [...new Set(spec.axes)].sort((a, b) => a - b);
  const key = `reduce ${spec.kind} int32 shape=[${spec.shape.join(",")}] axes=[${axes.join(",")}]`;
  const kernel = compileKernel(key, () => buildReduce({ ...spec, axes }));
  return {
    key,
    kernel,
    run(memory, input, output) {
      (instantiate(kernel, memory).exports.run as (a: number, b: number) => void)(input, output);
    },
  };
}

interface Group {
  readonly shape: number[];
  readonly strides: number[];
}

/** Returns the kept (reduced = false) or reduced axes, collapsed where contiguous. */
function groupOf(spec: Int32ReduceSpec, reduced: boolean): Group {
  const strides = denseStrides(spec.shape);
  const dims = spec.shape.map((_, d) => d).filter((d) => spec.axes.includes(d) === reduced);
  const collapsed = collapseAxes(dims.map((d) => spec.shape[d]), [dims.map((d) => strides[d])]);
  return { shape: collapsed.shape, strides: collapsed.strides[0] };
}

function buildReduce(spec: Int32ReduceSpec): ModuleBuilder {
  const c = new CodeBuilder([["input", "i32"], ["output", "i32"]]);
  const kept = groupOf(spec, false);
  const reduced = groupOf(spec, true);
  let innermost = spec.shape.length - 1;
  while (innermost >= 0 && spec.shape[innermost] === 1) innermost--;
  if (sizeOf(spec.shape) === 0) fillIdentity(c, spec.kind, sizeOf(kept.shape));
  else if (innermost >= 0 && spec.axes.includes(innermost)) emitRunsPerOutput(c, spec.kind, kept, reduced);
  else emitColumnsPerVector(c, spec.kind, kept, reduced);
  const module = new ModuleBuilder();
  module.addFunction("run", c);
  return module;
}

function fillIdentity(c: CodeBuilder, kind: ReduceKind, outputs: number): void {
  const i = c.local("i32", "i");
  emitFor(c, i, outputs, 1, () => void c.get(c.param(1)).get(i).i32(4).op("i32.mul").op("i32.add").i32(int32Identity[kind]).mem("i32.store"));
}

/** Folds the i32 on top of the stack into `acc`. max and min use select, because wasm has no scalar i32 max. */
function foldScalar(c: CodeBuilder, kind: ReduceKind, acc: Local, value: Local): void {
  c.set(value);
  if (kind === "sum" || kind === "prod") {
    c.get(acc).get(value).op(kind === "sum" ? "i32.add" : "i32.mul").set(acc);
    return;
  }
  c.get(acc).get(value).get(acc).get(value).op(kind === "max" ? "i32.gt_s" : "i32.lt_s").op("select").set(acc);
}

/** Folds the v128 on top of the stack into the vector accumulator `acc`. */
function foldVector(c: CodeBuilder, kind: ReduceKind, acc: Local, incoming: Local): void {
  c.set(incoming).get(acc).get(incoming).simd(vectorOps[kind]).set(acc);
}

/** Last axis reduced: every output folds runs of contiguous elements, four lanes at a time plus a scalar tail. */
function emitRunsPerOutput(c: CodeBuilder, kind: ReduceKind, kept: Group, reduced: Group): void {
  const [input, output] = c.params;
  const run = reduced.shape[reduced.shape.length - 1];
  const outerShape = reduced.shape.slice(0, -1);
  const outerStrides = reduced.strides.slice(0, -1);
  const [o, r, t, base, pointer, scalar, value] = ["o", "r", "t", "base", "pointer", "scalar", "value"].map((n) => c.local("i32", n));
  const [acc, incoming] = [c.local("v128", "acc"), c.local("v128", "incoming")];

  emitFor(c, o, sizeOf(kept.shape), 1, () => {
    c.get(input);
    emitStridedOffset(c, o, kept.shape, kept.strides, 4);
    c.op("i32.add").set(base);
    i32x4Const(c, int32Identity[kind]).set(acc);
    c.i32(int32Identity[kind]).set(scalar);
    emitFor(c, r, sizeOf(outerShape), 1, () => {
      c.get(base);
      emitStridedOffset(c, r, outerShape, outerStrides, 4);
      c.op("i32.add").set(pointer);
      emitFor(c, t, Math.floor(run / 4), 1, () => {
        c.get(pointer).vmem("v128.load");
        foldVector(c, kind, acc, incoming);
        c.get(pointer).i32(16).op("i32.add").set(pointer);
      });
      for (let k = 0; k < run % 4; k++) {
        c.get(pointer).mem("i32.load", 4 * k);
        foldScalar(c, kind, scalar, value);
      }
    });
    for (let lane = 0; lane < 4; lane++) {
      c.get(acc).lane("i32x4.extract_lane", lane);
      foldScalar(c, kind, scalar, value);
    }
    c.get(output).get(o).i32(4).op("i32.mul").op("i32.add").get(scalar).mem("i32.store");
  });
}

/** Last axis kept: four neighbouring outputs share each vector load, and leftover columns fold one by one. */
function emitColumnsPerVector(c: CodeBuilder, kind: ReduceKind, kept: Group, reduced: Group): void {
  const [input, output] = c.params;
  const width = kept.shape[kept.shape.length - 1];
  const outerShape = kept.shape.slice(0, -1);
  const outerStrides = kept.strides.slice(0, -1);
  const [o, j, r, base, outPointer, scalar, value] = ["o", "j", "r", "base", "outPointer", "scalar", "value"].map((n) => c.local("i32", n));
  const [acc, incoming] = [c.local("v128", "acc"), c.local("v128", "incoming")];

  const pushReducedAddress = (column: Local | number): void => {
    c.get(base);
    emitStridedOffset(c, r, reduced.shape, reduced.strides, 4);
    c.op("i32.add");
    if (typeof column === "number") c.i32(column * 4).op("i32.add");
    else c.get(column).i32(16).op("i32.mul").op("i32.add");
  };
  emitFor(c, o, sizeOf(outerShape), 1, () => {
    c.get(input);
    emitStridedOffset(c, o, outerShape, outerStrides, 4);
    c.op("i32.add").set(base);
    c.get(output).get(o).i32(width * 4).op("i32.mul").op("i32.add").set(outPointer);
    emitFor(c, j, Math.floor(width / 4), 1, () => {
      i32x4Const(c, int32Identity[kind]).set(acc);
      emitFor(c, r, sizeOf(reduced.shape), 1, () => {
        pushReducedAddress(j);
        c.vmem("v128.load");
        foldVector(c, kind, acc, incoming);
      });
      c.get(outPointer).get(acc).vmem("v128.store");
      c.get(outPointer).i32(16).op("i32.add").set(outPointer);
    });
    for (let column = width - (width % 4); column < width; column++) {
      c.i32(int32Identity[kind]).set(scalar);
      emitFor(c, r, sizeOf(reduced.shape), 1, () => {
        pushReducedAddress(column);
        c.mem("i32.load");
        foldScalar(c, kind, scalar, value);
      });
      c.get(outPointer).get(scalar).mem("i32.store");
      c.get(outPointer).i32(4).op("i32.add").set(outPointer);
    }
  });
}
