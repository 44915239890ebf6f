// SIMD kernels that combine two buffers elementwise, for the reductions inside collectives.
//
// A wasm32 module without multi-memory can address only one memory, so collectives copy peers' data into a
// scratch area of the device's own memory in chunks and run these kernels there. Every kernel takes
// byte offsets and a byte count: out[i] = a[i] op b[i], or out[i] = out[i] / divisor. IEEE add, max,
// min and divide on float32 lanes give the same bits as the same operation done in float64 and rounded
// to float32, so these kernels match the plain typed-array loops bit for bit.

import type { StorageDType } from "../storage.js";
import { CodeBuilder, type Local } from "../wasm/emitter/code.js";
import { ModuleBuilder } from "../wasm/emitter/module.js";
import type { MemoryOp, PlainOp, SimdOp } from "../wasm/emitter/opcodes.js";
import { compileKernel, type CompiledKernel } from "../wasm/kernel.js";
import type { ReduceOp } from "./program.js";

type CombineOp = Exclude<ReduceOp, "mean">;

interface LaneType {
  readonly load: MemoryOp;
  readonly store: MemoryOp;
  readonly bytes: number;
  readonly vector: Partial<Record<CombineOp | "div", SimdOp>>;
  readonly scalar: Partial<Record<CombineOp | "div", PlainOp>>;
}

// NOTE: int32 max and min have no scalar wasm instruction for the tail, so they stay on the typed-array loop.
const laneTypes: Partial<Record<StorageDType, LaneType>> = {
  float32: {
    load: "f32.load", store: "f32.store", bytes: 4,
    vector: { sum: "f32x4.add", max: "f32x4.max", min: "f32x4.min", div: "f32x4.div" },
    scalar: { sum: "f32.add", max: "f32.max", min: "f32.min", div: "f32.div" },
  },
  float64: {
    load: "f64.load", store: "f64.store", bytes: 8,
    vector: { sum: "f64x2.add", max: "f64x2.max", min: "f64x2.min", div: "f64x2.div" },
    scalar: { sum: "f64.add", max: "f64.max", min: "f64.min", div: "f64.div" },
  },
  int32: { load: "i32.load", store: "i32.store", bytes: 4, vector: { sum: "i32x4.add" }, scalar: { sum: "i32.add" } },
};

/** Export name of the combine kernel for `op` on `dtype`, or undefined when there is none. */
export function combineExport(op: ReduceOp, dtype: StorageDType): string | undefined {
  const combine = op === "mean" ? "sum" : op;
  return laneTypes[dtype]?.scalar[combine] === undefined ? undefined : `${combine}_${dtype}`;
}

/** Export name of the divide kernel for `dtype`, or undefined when there is none. */
export function divideExport(dtype: StorageDType): string | undefined {
  return laneTypes[dtype]?.scalar.div === undefined ? undefined : `div_${dtype}`;
}

/** Kernel key of the module built by reduceKernels. */
export const reduceKernelKey = "mesh-reduce-v1";

/** Compiles (once per thread) the module with every combine and divide kernel; the mesh posts it to its workers. */
export function reduceKernels(): CompiledKernel {
  return compileKernel(reduceKernelKey, () => {
    const module = new ModuleBuilder();
    for (const [dtype, lanes] of Object.entries(laneTypes) as [StorageDType, LaneType][]) {
      for (const op of ["sum", "max", "min"] as const) {
        const name = combineExport(op, dtype);
        if (name !== undefined) module.addFunction(name, combineFunction(lanes, op));
      }
      const divide = divideExport(dtype);
      if (divide !== undefined) module.addFunction(divide, divideFunction(lanes, dtype));
    }
    return module;
  });
}

/** (out, a, b, bytes): 16 bytes per iteration with SIMD, then one element at a time. */
function combineFunction(lanes: LaneType, op: CombineOp): CodeBuilder {
  const c = new CodeBuilder([["out", "i32"], ["a", "i32"], ["b", "i32"], ["bytes", "i32"]]);
  const [out, a, b, bytes] = c.params;
  const i = c.local("i32", "i");
  const vectorEnd = c.local("i32", "vectorEnd");
  c.get(bytes).i32(-16).op("i32.and").set(vectorEnd);
  loopWhileBelow(c, i, vectorEnd, 16, () => {
    c.get(out).get(i).op("i32.add");
    c.get(a).get(i).op("i32.add").vmem("v128.load");
    c.get(b).get(i).op("i32.add").vmem("v128.load");
    c.simd(lanes.vector[op] as SimdOp).vmem("v128.store");
  });
  loopWhileBelow(c, i, bytes, lanes.bytes, () => {
    c.get(out).get(i).op("i32.add");
    c.get(a).get(i).op("i32.add").mem(lanes.load);
    c.get(b).get(i).op("i32.add").mem(lanes.load);
    c.op(lanes.scalar[op] as PlainOp).mem(lanes.store);
  });
  return c;
}

/** (out, bytes, divisor): out[i] = out[i] / divisor, with the float64 divisor rounded to the lane type. */
function divideFunction(lanes: LaneType, dtype: StorageDType): CodeBuilder {
  const c = new CodeBuilder([["out", "i32"], ["bytes", "i32"], ["divisor", "f64"]]);
  const [out, bytes, divisor] = c.params;
  const i = c.local("i32", "i");
  const vectorEnd = c.local("i32", "vectorEnd");
  const scalar = c.local(dtype === "float32" ? "f32" : "f64", "scalar");
  const splat = c.local("v128", "splat");
  c.get(divisor);
  if (dtype === "float32") c.op("f32.demote_f64");
  c.set(scalar);
  c.get(scalar).simd(dtype === "float32" ? "f32x4.splat" : "f64x2.splat").set(splat);
  c.get(bytes).i32(-16).op("i32.and").set(vectorEnd);
  loopWhileBelow(c, i, vectorEnd, 16, () => {
    c.get(out).get(i).op("i32.add");
    c.get(out).get(i).op("i32.add").vmem("v128.load");
    c.get(splat).simd(lanes.vector.div as SimdOp).vmem("v128.store");
  });
  loopWhileBelow(c, i, bytes, lanes.bytes, () => {
    c.get(out).get(i).op("i32.add");
    c.get(out).get(i).op("i32.add").mem(lanes.load);
    c.get(scalar).op(lanes.scalar.div as PlainOp).mem(lanes.store);
  });
  return c;
}

/** Emits `while (i < end) { body(); i += step }` with unsigned comparison. */
function loopWhileBelow(c: CodeBuilder, i: Local, end: Local, step: number, body: () => void): void {
  const exit = c.block();
  const top = c.loop();
  c.get(i).get(end).op("i32.ge_u").brIf(exit);
  body();
  c.get(i).i32(step).op("i32.add").set(i).br(top);
  c.end().end();
}
