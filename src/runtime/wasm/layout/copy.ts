// Data movement: copies between affine views (transpose, slice with steps, flip, broadcast) and pad.

import { NotSupportedError, ShapeError } from "../../errors.js";
import { itemSize, sizeOf, type StorageDType } from "../../storage.js";
import { CodeBuilder, type Local } from "../emitter/code.js";
import { ModuleBuilder } from "../emitter/module.js";
import { compileKernel, instantiate, type CompiledKernel } from "../kernel.js";
import { collapseAxes, denseStrides, emitFor, emitStridedOffset } from "../loops.js";

/** out[dstOffset + sum_d i_d dstStrides[d]] = in[srcOffset + sum_d i_d srcStrides[d]] for every index i of `shape`. */
export interface CopySpec {
  readonly shape: readonly number[];
  readonly dtype: StorageDType;
  readonly srcStrides: readonly number[];
  readonly srcOffset?: number;
  readonly dstStrides?: readonly number[];
  readonly dstOffset?: number;
}

export interface LayoutKernel {
  readonly key: string;
  readonly kernel: CompiledKernel;
  run(memory: WebAssembly.Memory, input: number, output: number): void;
}

function layoutKernel(key: string, build: () => ModuleBuilder): LayoutKernel {
  const kernel = compileKernel(key, build);
  return { key, kernel, run: (memory, input, output) => (instantiate(kernel, memory).exports.run as (a: number, b: number) => void)(input, output) };
}

/** Copies a strided view of the input into a dense output (or into a strided view of the output). */
export function copyKernel(spec: CopySpec): LayoutKernel {
  const dstStrides = spec.dstStrides ?? denseStrides(spec.shape);
  if (spec.srcStrides.length !== spec.shape.length || dstStrides.length !== spec.shape.length) {
    throw new ShapeError(`copy: shape [${spec.shape.join(", ")}] needs one stride per axis, got source [${spec.srcStrides.join(", ")}] and destination [${dstStrides.join(", ")}]`);
  }
  const full = { ...spec, dstStrides, srcOffset: spec.srcOffset ?? 0, dstOffset: spec.dstOffset ?? 0 };
  const key = `copy ${spec.dtype} shape=[${spec.shape.join(",")}] src=[${spec.srcStrides.join(",")}]+${full.srcOffset} dst=[${dstStrides.join(",")}]+${full.dstOffset}`;
  return layoutKernel(key, () => {
    const c = new CodeBuilder([["input", "i32"], ["output", "i32"]]);
    emitCopy(c, full, c.param(0), c.param(1));
    return single(c);
  });
}

export interface PadSpec {
  readonly shape: readonly number[];
  readonly dtype: StorageDType;
  readonly low: readonly number[];
  readonly high: readonly number[];
  readonly interior: readonly number[];
  readonly value: number;
}

/** Pads with `value`: low and high elements at each end of each axis and interior elements between neighbours. */
export function padKernel(spec: PadSpec): LayoutKernel {
  if ([...spec.low, ...spec.high, ...spec.interior].some((p) => !Number.isInteger(p) || p < 0)) {
    throw new NotSupportedError(`pad: negative or fractional padding (low [${spec.low}], high [${spec.high}], interior [${spec.interior}]) is not supported by the kernel; slice first`);
  }
  const outShape = spec.shape.map((n, d) => spec.low[d] + spec.high[d] + n + Math.max(0, n - 1) * spec.interior[d]);
  const outStrides = denseStrides(outShape);
  const placement = spec.shape.map((_, d) => outStrides[d] * (spec.interior[d] + 1));
  const start = spec.low.reduce((acc, l, d) => acc + l * outStrides[d], 0);
  const key = `pad ${spec.dtype} shape=[${spec.shape.join(",")}] low=[${spec.low}] high=[${spec.high}] interior=[${spec.interior}] value=${Object.is(spec.value, -0) ? "-0" : spec.value}`;
  return layoutKernel(key, () => {
    const c = new CodeBuilder([["input", "i32"], ["output", "i32"]]);
    emitFill(c, c.param(1), sizeOf(outShape), spec.dtype, spec.value);
    emitCopy(c, { shape: spec.shape, dtype: spec.dtype, srcStrides: denseStrides(spec.shape), srcOffset: 0, dstStrides: placement, dstOffset: start }, c.param(0), c.param(1));
    return single(c);
  });
}

/** Writes `count` elements of `value` at `output`. */
function emitFill(c: CodeBuilder, output: Local, count: number, dtype: StorageDType, value: number): void {
  const i = c.local("i32", "i");
  const bytes = itemSize(dtype);
  emitFor(c, i, count, 1, () => {
    c.get(output).get(i).i32(bytes).op("i32.mul").op("i32.add");
    pushScalar(c, dtype, value);
    storeScalar(c, dtype);
  });
}

function pushScalar(c: CodeBuilder, dtype: StorageDType, value: number): void {
  if (dtype === "float32") c.f32(value);
  else if (dtype === "float64") c.f64(value);
  else if (dtype === "int32") c.i32(value | 0);
  else c.i32(value !== 0 ? 1 : 0);
}

/** The scalar load and store of each dtype; bool is one byte. */
const scalarAccess = {
  float32: { load: "f32.load", store: "f32.store" },
  float64: { load: "f64.load", store: "f64.store" },
  int32: { load: "i32.load", store: "i32.store" },
  bool: { load: "i32.load8_u", store: "i32.store8" },
} as const satisfies Record<StorageDType, object>;

function loadScalar(c: CodeBuilder, dtype: StorageDType): void {
  c.mem(scalarAccess[dtype].load);
}

function storeScalar(c: CodeBuilder, dtype: StorageDType): void {
  c.mem(scalarAccess[dtype].store);
}

/** Rows whose last axis is contiguous on both sides become one memory.copy; other rows copy element by element. */
function emitCopy(c: CodeBuilder, spec: Required<CopySpec>, input: Local, output: Local): void {
  const bytes = itemSize(spec.dtype);
  const collapsed = collapseAxes(spec.shape, [spec.srcStrides, spec.dstStrides]);
  const [srcStrides, dstStrides] = collapsed.strides;
  const shape = collapsed.shape;
  const last = shape.length - 1;
  const inner = shape[last];
  const rowShape = shape.slice(0, -1).concat(1);
  const row = c.local("i32", "row");
  const j = c.local("i32", "j");
  const src = c.local("i32", "src");
  const dst = c.local("i32", "dst");
  if (sizeOf(spec.shape) === 0) return;

  emitFor(c, row, sizeOf(shape) / inner, 1, () => {
    c.get(input).i32(spec.srcOffset * bytes).op("i32.add");
    emitStridedOffset(c, row, rowShape, srcStrides.slice(0, -1).concat(0), bytes);
    c.op("i32.add").set(src);
    c.get(output).i32(spec.dstOffset * bytes).op("i32.add");
    emitStridedOffset(c, row, rowShape, dstStrides.slice(0, -1).concat(0), bytes);
    c.op("i32.add").set(dst);
    if (srcStrides[last] === 1 && dstStrides[last] === 1) {
      c.get(dst).get(src).i32(inner * bytes).misc("memory.copy");
      return;
    }
    // NOTE: strided rows (transposes, steps, flips) copy one element at a time; 4x4 shuffles would be faster.
    emitFor(c, j, inner, 1, () => {
      c.get(dst).get(src);
      loadScalar(c, spec.dtype);
      storeScalar(c, spec.dtype);
      c.get(src).i32(srcStrides[last] * bytes).op("i32.add").set(src);
      c.get(dst).i32(dstStrides[last] * bytes).op("i32.add").set(dst);
    });
  });
}

function single(c: CodeBuilder): ModuleBuilder {
  const module = new ModuleBuilder();
  module.addFunction("run", c);
  return module;
}
