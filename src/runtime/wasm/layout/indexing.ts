// gather and scatter-add along one axis with int32 indices. Both check every index first and return
// 1 + the position of the first index outside [0, n) without writing anything, or 0 on success.

import { DTypeError, IndexError } from "../../errors.js";
import { itemSize, sizeOf, type StorageDType } from "../../storage.js";
import { CodeBuilder, type Local } from "../emitter/code.js";
import { ModuleBuilder } from "../emitter/module.js";
import { compileKernel, instantiate, type CompiledKernel } from "../kernel.js";
import { emitFor } from "../loops.js";

export interface IndexSpec {
  /** Shape of the operand that is indexed (gather input, scatter-add output). */
  readonly shape: readonly number[];
  readonly axis: number;
  /** Number of indices. */
  readonly count: number;
  readonly dtype: StorageDType;
}

/** Formats the error for index `bad` at `position` of an indices operand, for an axis of `size` elements. */
export function outOfRangeMessage(op: string, bad: number, position: number, size: number): string {
  return `${op}: index ${bad} at position ${position} is out of range for an axis of size ${size}; valid indices are 0..${size - 1}`;
}

export interface IndexKernel {
  readonly key: string;
  readonly kernel: CompiledKernel;
  /** gather: (input, indices, output). scatterAdd: (operand, indices, updates, output). Throws IndexError on a bad index. */
  run(memory: WebAssembly.Memory, ...offsets: number[]): void;
}

function indexKernel(op: string, spec: IndexSpec, build: () => ModuleBuilder, indicesParam: number): IndexKernel {
  const key = `${op} ${spec.dtype} shape=[${spec.shape.join(",")}] axis=${spec.axis} count=${spec.count}`;
  const kernel = compileKernel(key, build);
  return {
    key,
    kernel,
    run(memory, ...offsets) {
      const status = (instantiate(kernel, memory).exports.run as (...a: number[]) => number)(...offsets);
      if (status !== 0) {
        const n = spec.shape[spec.axis];
        const bad = new Int32Array(memory.buffer, offsets[indicesParam] + 4 * (status - 1), 1)[0];
        throw new IndexError(outOfRangeMessage(op, bad, status - 1, n));
      }
    },
  };
}

function geometry(spec: IndexSpec): { outer: number; inner: number; n: number } {
  return { outer: sizeOf(spec.shape.slice(0, spec.axis)), inner: sizeOf(spec.shape.slice(spec.axis + 1)), n: spec.shape[spec.axis] };
}

/** Emits the index check: returns 1 + j for the first indices[j] outside [0, n). */
function emitIndexCheck(c: CodeBuilder, indices: Local, count: number, n: number): void {
  const j = c.local("i32", "check");
  emitFor(c, j, count, 1, () => {
    c.get(indices).get(j).i32(4).op("i32.mul").op("i32.add").mem("i32.load").i32(n).op("i32.ge_u");
    c.if();
    c.get(j).i32(1).op("i32.add").op("return");
    c.end();
  });
}

/** out[o, j, i] = x[o, indices[j], i]. */
export function gatherKernel(spec: IndexSpec): IndexKernel {
  return indexKernel("gather", spec, () => {
    const { outer, inner, n } = geometry(spec);
    const bytes = itemSize(spec.dtype);
    const c = new CodeBuilder([["input", "i32"], ["indices", "i32"], ["output", "i32"]], ["i32"]);
    const [input, indices, output] = c.params;
    const [o, j, dst] = [c.local("i32", "o"), c.local("i32", "j"), c.local("i32", "dst")];
    emitIndexCheck(c, indices, spec.count, n);
    c.get(output).set(dst);
    emitFor(c, o, outer, 1, () => {
      emitFor(c, j, spec.count, 1, () => {
        c.get(dst);
        c.get(input).get(o).i32(n * inner * bytes).op("i32.mul").op("i32.add");
        c.get(indices).get(j).i32(4).op("i32.mul").op("i32.add").mem("i32.load").i32(inner * bytes).op("i32.mul").op("i32.add");
        c.i32(inner * bytes).misc("memory.copy");
        c.get(dst).i32(inner * bytes).op("i32.add").set(dst);
      });
    });
    c.i32(0);
    return single(c);
  }, 1);
}

/** Checks `count` int32 indices against [0, bound) and writes nothing: run(indices) returns the status. */
export function checkIndicesKernel(count: number, bound: number): CompiledKernel {
  return compileKernel(`checkIndices count=${count} bound=${bound}`, () => {
    const c = new CodeBuilder([["indices", "i32"]], ["i32"]);
    emitIndexCheck(c, c.param(0), count, bound);
    c.i32(0);
    return single(c);
  });
}

type AddableDType = "float32" | "float64" | "int32";

/** The add, load and store instructions of each dtype scatter-add accepts. */
const addInstructions = {
  float32: { vectorOp: "f32x4.add", scalarOp: "f32.add", load: "f32.load", store: "f32.store" },
  float64: { vectorOp: "f64x2.add", scalarOp: "f64.add", load: "f64.load", store: "f64.store" },
  int32: { vectorOp: "i32x4.add", scalarOp: "i32.add", load: "i32.load", store: "i32.store" },
} as const satisfies Record<AddableDType, object>;

/** out = operand, then out[o, indices[j], i] += updates[o, j, i]; repeated indices add up in index order. */
export function scatterAddKernel(spec: IndexSpec): IndexKernel {
  if (spec.dtype === "bool") throw new DTypeError("scatterAdd: bool operands cannot be added; cast to int32 first");
  return indexKernel("scatterAdd", spec, () => {
    const { outer, inner, n } = geometry(spec);
    const bytes = itemSize(spec.dtype);
    const c = new CodeBuilder([["operand", "i32"], ["indices", "i32"], ["updates", "i32"], ["output", "i32"]], ["i32"]);
    const [operand, indices, updates, output] = c.params;
    const [o, j, k, src, dst] = ["o", "j", "k", "src", "dst"].map((name) => c.local("i32", name));
    emitIndexCheck(c, indices, spec.count, n);
    c.get(output).get(operand).i32(sizeOf(spec.shape) * bytes).misc("memory.copy");
    c.get(updates).set(src);
    const { vectorOp, scalarOp, load, store } = addInstructions[spec.dtype as AddableDType];
    const perVector = 16 / bytes;
    emitFor(c, o, outer, 1, () => {
      emitFor(c, j, spec.count, 1, () => {
        c.get(output).get(o).i32(n * inner * bytes).op("i32.mul").op("i32.add");
        c.get(indices).get(j).i32(4).op("i32.mul").op("i32.add").mem("i32.load").i32(inner * bytes).op("i32.mul").op("i32.add").set(dst);
        emitFor(c, k, Math.floor(inner / perVector), 1, () => {
          c.get(dst).get(dst).vmem("v128.load").get(src).vmem("v128.load").simd(vectorOp).vmem("v128.store");
          c.get(dst).i32(16).op("i32.add").set(dst);
          c.get(src).i32(16).op("i32.add").set(src);
        });
        for (let t = 0; t < inner % perVector; t++) {
          c.get(dst).get(dst).mem(load, t * bytes).get(src).mem(load, t * bytes).op(scalarOp).mem(store, t * bytes);
        }
        c.get(src).i32((inner % perVector) * bytes).op("i32.add").set(src);
      });
    });
    c.i32(0);
    return single(c);
  }, 1);
}

function single(c: CodeBuilder): ModuleBuilder {
  const module = new ModuleBuilder();
  module.addFunction("run", c);
  return module;
}
