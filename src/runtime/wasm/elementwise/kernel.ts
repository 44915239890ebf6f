// Fused elementwise kernel: one module per spec that reads each input element once per output element
// and writes every output once, four lanes at a time along the contiguous last axis.

import { ShapeError } from "../../errors.js";
import { itemSize, sizeOf } from "../../storage.js";
import { CodeBuilder } from "../emitter/code.js";
import { ModuleBuilder } from "../emitter/module.js";
import { relaxedSimdSupported } from "../features.js";
import { compileKernel, instantiate, type CompiledKernel } from "../kernel.js";
import { collapseAxes, denseStrides, emitAdd, emitFor, emitStridedOffset } from "../loops.js";
import { declareHelpers, emitExpr } from "./evaluate.js";
import { dtypeOf, printExprs, type ElementwiseSpec, type Expr } from "./ir.js";
import type { LaneContext, Value } from "./lanes.js";
import { emitLoad, emitStore } from "./memory-access.js";

export interface KernelOptions {
  /** Use f32x4.relaxed_madd in polynomials; defaults to whether the engine supports it. */
  readonly relaxed?: boolean;
}

/** A compiled elementwise kernel; `run` takes the byte offsets of the inputs, then of the outputs. */
export interface ElementwiseKernel {
  readonly key: string;
  readonly kernel: CompiledKernel;
  run(memory: WebAssembly.Memory, inputs: readonly number[], outputs: readonly number[]): void;
}

export function elementwiseKernel(spec: ElementwiseSpec, options: KernelOptions = {}): ElementwiseKernel {
  checkSpec(spec);
  const relaxed = options.relaxed ?? relaxedSimdSupported();
  const key = elementwiseKey(spec, relaxed);
  const kernel = compileKernel(key, () => buildElementwise(spec, relaxed));
  return {
    key,
    kernel,
    run(memory, inputs, outputs) {
      const run = instantiate(kernel, memory).exports.run as (...offsets: number[]) => void;
      run(...inputs, ...outputs);
    },
  };
}

/** Printable cache key: shape, input dtypes and strides, the printed DAG, and the SIMD flavour. */
export function elementwiseKey(spec: ElementwiseSpec, relaxed: boolean): string {
  const inputs = spec.inputs.map((i) => `${i.dtype}[${i.strides.join(",")}]`).join(" ");
  return `elementwise shape=[${spec.shape.join(",")}] in=(${inputs}) ${printExprs(spec.outputs)}${relaxed ? " relaxed" : ""}`;
}

function checkSpec(spec: ElementwiseSpec): void {
  for (const [k, input] of spec.inputs.entries()) {
    if (input.strides.length !== spec.shape.length) {
      throw new ShapeError(`elementwise: input ${k} has ${input.strides.length} strides for a shape of rank ${spec.shape.length} ([${spec.shape.join(", ")}]); give one stride per axis`);
    }
  }
  const memo = new Map<Expr, ReturnType<typeof dtypeOf>>();
  for (const output of spec.outputs) dtypeOf(output, spec.inputs, memo);
}

function buildElementwise(spec: ElementwiseSpec, relaxed: boolean): ModuleBuilder {
  const module = new ModuleBuilder();
  const imports = declareHelpers(module, spec.inputs, spec.outputs);
  const outputDTypes = spec.outputs.map((o) => dtypeOf(o, spec.inputs));
  const dense = denseStrides(spec.shape);
  const collapsed = collapseAxes(spec.shape, [...spec.inputs.map((i) => i.strides), dense]);
  const shape = collapsed.shape;
  const inner = shape[shape.length - 1];
  const rows = sizeOf(shape) / inner;

  const params = [...spec.inputs.map((_, k) => [`in${k}`, "i32"] as const), ...spec.outputs.map((_, k) => [`out${k}`, "i32"] as const)];
  const c = new CodeBuilder(params);
  if (sizeOf(spec.shape) === 0) {
    module.addFunction("run", c);
    return module;
  }
  const ctx: LaneContext = { c, relaxed, imports };
  const row = c.local("i32", "row");
  const j = c.local("i32", "j");
  const inPointers = spec.inputs.map(() => c.local("i32", "inPtr"));
  const outPointers = spec.outputs.map(() => c.local("i32", "outPtr"));
  const innerStrides = spec.inputs.map((_, k) => collapsed.strides[k][shape.length - 1]);

  const rowBody = (): void => {
    spec.inputs.forEach((input, k) => {
      c.get(c.param(k));
      emitStridedOffset(c, row, shape.slice(0, -1).concat(1), collapsed.strides[k].slice(0, -1).concat(0), itemSize(input.dtype));
      c.op("i32.add").set(inPointers[k]);
    });
    outputDTypes.forEach((dtype, k) => {
      c.get(c.param(spec.inputs.length + k)).get(row).i32(inner * itemSize(dtype)).op("i32.mul").op("i32.add").set(outPointers[k]);
    });
    // Inputs broadcast along the last axis are loaded once per row.
    const broadcast = new Map<number, Value>();
    spec.inputs.forEach((input, k) => {
      if (innerStrides[k] === 0) broadcast.set(k, emitLoad(c, input.dtype, inPointers[k], 0, 4));
    });
    const body = (lanes: number): void => {
      const memo = new Map<Expr, Value>();
      const load = (k: number): Value => broadcast.get(k) ?? emitLoad(c, spec.inputs[k].dtype, inPointers[k], innerStrides[k], lanes);
      const values = spec.outputs.map((o) => emitExpr(ctx, o, memo, load));
      values.forEach((v, k) => emitStore(c, v, outPointers[k], lanes));
    };
    const vectors = Math.floor(inner / 4);
    emitFor(c, j, vectors, 1, () => {
      body(4);
      spec.inputs.forEach((input, k) => emitAdd(c, inPointers[k], 4 * innerStrides[k] * itemSize(input.dtype)));
      outputDTypes.forEach((dtype, k) => emitAdd(c, outPointers[k], 4 * itemSize(dtype)));
    });
    if (inner % 4 !== 0) body(inner % 4);
  };
  if (rows === 1) {
    c.i32(0).set(row);
    rowBody();
  } else emitFor(c, row, rows, 1, rowBody);

  module.addFunction("run", c);
  return module;
}
