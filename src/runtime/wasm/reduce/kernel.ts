// Reductions (sum, prod, max, min) over any set of axes of a float32 or float64 value, which is either a
// dense tensor or an elementwise expression over strided inputs evaluated inside the reduction loop.
//
// When the last axis is reduced, each output folds runs along it four lanes at a time. When the last
// axis is kept, four neighbouring outputs are folded together, one evaluation per reduced index. Axes are
// grouped first, so sum over (1, 2) of [A, B, C] with dense inputs is one run per output.

import { DTypeError, IndexError, ShapeError } from "../../errors.js";
import { itemSize, sizeOf } from "../../storage.js";
import { CodeBuilder } from "../emitter/code.js";
import { ModuleBuilder } from "../emitter/module.js";
import { declareHelpers } from "../elementwise/evaluate.js";
import { dtypeOf, input as inputExpr, printExprs, type Expr, type InputSpec } from "../elementwise/ir.js";
import type { KernelOptions } from "../elementwise/kernel.js";
import { relaxedSimdSupported } from "../features.js";
import { compileKernel, instantiate, type CompiledKernel } from "../kernel.js";
import { collapseAxes, denseStrides, emitFor } from "../loops.js";
import { scalarIdentity, type FloatDType, type ReduceKind } from "./accumulate.js";
import { emitColumnsPerVector, emitRunsPerOutput, Prologue, storeScalar, type AxisGroup } from "./loops.js";

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
  const fused = fusedReduceKernel({
    shape: spec.shape,
    axes: spec.axes,
    kind: spec.kind,
    inputs: [{ dtype: spec.dtype, strides: denseStrides(spec.shape) }],
    expr: inputExpr(0),
  });
  return {
    key: fused.key,
    kernel: fused.kernel,
    run: (memory, offset, output) => fused.run(memory, [offset], output),
  };
}

/** Reduces `expr`, evaluated at every index of `shape`, over `axes`. The output is dense, kept axes in order. */
export interface FusedReduceSpec {
  readonly shape: readonly number[];
  readonly axes: readonly number[];
  readonly kind: ReduceKind;
  /** Strided inputs of `expr`; a stride of 0 broadcasts. */
  readonly inputs: readonly InputSpec[];
  /** The value reduced; its dtype must be float32 or float64, which is also the output dtype. */
  readonly expr: Expr;
}

export interface FusedReduceKernel {
  readonly key: string;
  readonly kernel: CompiledKernel;
  readonly dtype: FloatDType;
  /** Reads the inputs at byte offsets `inputs` and writes the dense output at byte offset `output`. */
  run(memory: WebAssembly.Memory, inputs: readonly number[], output: number): void;
}

export function fusedReduceKernel(spec: FusedReduceSpec, options: KernelOptions = {}): FusedReduceKernel {
  const name = `reduce ${spec.kind}`;
  for (const axis of spec.axes) {
    if (!Number.isInteger(axis) || axis < 0 || axis >= spec.shape.length) {
      throw new IndexError(`${name}: axis ${axis} is out of range for shape [${spec.shape.join(", ")}]; normalise negative axes before building the kernel`);
    }
  }
  for (const [k, input] of spec.inputs.entries()) {
    if (input.strides.length !== spec.shape.length) {
      throw new ShapeError(`${name}: input ${k} has ${input.strides.length} strides for a shape of rank ${spec.shape.length} ([${spec.shape.join(", ")}]); give one stride per axis`);
    }
  }
  const dtype = dtypeOf(spec.expr, spec.inputs);
  if (dtype !== "float32" && dtype !== "float64") throw new DTypeError(`${name}: the reduced value must be float32 or float64, got ${dtype}; cast it first`);

  const relaxed = options.relaxed ?? relaxedSimdSupported();
  const axes = [...new Set(spec.axes)].sort((a, b) => a - b);
  const inputs = spec.inputs.map((i) => `${i.dtype}[${i.strides.join(",")}]`).join(" ");
  const key = `${name} shape=[${spec.shape.join(",")}] axes=[${axes.join(",")}] in=(${inputs}) ${printExprs([spec.expr])}${relaxed ? " relaxed" : ""}`;
  const kernel = compileKernel(key, () => buildReduce({ ...spec, axes }, dtype, relaxed));
  return {
    key,
    kernel,
    dtype,
    run(memory, offsets, output) {
      (instantiate(kernel, memory).exports.run as (...offsets: number[]) => void)(...offsets, output);
    },
  };
}

/** Splits the axes into the kept and the reduced group, each collapsed where every input allows it. */
function groupAxes(spec: FusedReduceSpec, reduced: boolean): AxisGroup {
  const dims = spec.shape.map((_, d) => d).filter((d) => spec.axes.includes(d) === reduced);
  const collapsed = collapseAxes(dims.map((d) => spec.shape[d]), spec.inputs.map((input) => dims.map((d) => input.strides[d])));
  return { shape: collapsed.shape, strides: collapsed.strides };
}

function buildReduce(spec: FusedReduceSpec, dtype: FloatDType, relaxed: boolean): ModuleBuilder {
  const module = new ModuleBuilder();
  const imports = declareHelpers(module, spec.inputs, [spec.expr]);
  const c = new CodeBuilder([...spec.inputs.map((_, k) => [`in${k}`, "i32"] as const), ["output", "i32"]]);
  const kept = groupAxes(spec, false);
  const reduced = groupAxes(spec, true);
  // The loop order follows the innermost axis longer than 1, which is the contiguous one of a dense input.
  let innermost = spec.shape.length - 1;
  while (innermost >= 0 && spec.shape[innermost] === 1) innermost--;
  const prologue = new Prologue({ c, relaxed, imports }, spec.inputs, spec.expr, spec.kind, dtype);

  // NOTE: an empty input has nothing to read; outputs of an empty reduction get the identity.
  if (sizeOf(spec.shape) === 0) fillIdentity(c, spec.kind, dtype, spec.inputs.length, sizeOf(kept.shape));
  else if (innermost >= 0 && spec.axes.includes(innermost)) emitRunsPerOutput(prologue, kept, reduced);
  else emitColumnsPerVector(prologue, kept, reduced);
  module.addFunction("run", c);
  return module;
}

function fillIdentity(c: CodeBuilder, kind: ReduceKind, dtype: FloatDType, inputCount: number, outputs: number): void {
  const i = c.local("i32", "i");
  emitFor(c, i, outputs, 1, () => {
    c.get(c.param(inputCount)).get(i).i32(itemSize(dtype)).op("i32.mul").op("i32.add");
    storeScalar(c, dtype, () => c.f64(scalarIdentity(kind)));
  });
}
