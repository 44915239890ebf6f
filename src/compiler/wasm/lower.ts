// Lowering a scheduled graph to WebAssembly steps: elementwise chains fuse into one kernel, layout ops
// become strided views that their consumers read directly, and matmuls read transposed operands in place.

import { loweringOf, type StridedView } from "../../core/lowering.js";
import type { Node } from "../../core/node.js";
import { evalRule } from "../../core/primitive.js";
import type { ParamsOf, PrimitiveName } from "../../core/primitive-names.js";
import type { Schedule } from "../../core/schedule.js";
import { sizeOf, stridesOf } from "../../core/shape.js";
import { InternalError } from "../../runtime/errors.js";
import type { StorageDType } from "../../runtime/storage.js";
import type { CompiledKernel } from "../../runtime/wasm/kernel.js";
import { argReduceKernel } from "../../runtime/wasm/reduce/arg.js";
import { fusedReduceKernel } from "../../runtime/wasm/reduce/kernel.js";
import { int32ReduceKernel } from "../../runtime/wasm/reduce/int32.js";
import { checkIndicesKernel } from "../../runtime/wasm/layout/indexing.js";
import { randomKernel } from "../../runtime/wasm/random/threefry.js";
import { EpilogueFusion } from "./epilogue.js";
import { lowerLayout } from "./layout-step.js";
import { planDirectMatmul, planMatmul } from "./matmul-step.js";
import { planLayerNorm, planLayerNormGrad } from "./layernorm-step.js";
import { planSoftmax } from "./softmax-step.js";
import { isDense, ProgramBuilder, type Value } from "./builder.js";

function isFloatDType(dtype: StorageDType): dtype is "float32" | "float64" {
  return dtype === "float32" || dtype === "float64";
}

/** Counts how many times each node is read by later nodes or returned, which decides where fusion stops. */
function countUses(schedule: Schedule, outputs: readonly Node[]): Map<Node, number> {
  const uses = new Map<Node, number>();
  const bump = (n: Node): void => void uses.set(n, (uses.get(n) ?? 0) + 1);
  for (const node of schedule.order) node.inputs.forEach(bump);
  outputs.forEach(bump);
  return uses;
}

/**
 * Lowers every node of the schedule. Returns the program, the outputs' dense buffers, and the
 * positions of the nodes whose value ended up as a dense buffer of their own.
 */
export function lowerSchedule(
  schedule: Schedule,
  outputs: readonly Node[],
): { builder: ProgramBuilder; outputValues: (Value & { kind: "buffer" })[]; materialized: number[] } {
  const builder = new ProgramBuilder(schedule);
  const uses = countUses(schedule, outputs);
  const outputSet = new Set(outputs);

  schedule.boundary.forEach((node, i) => {
    const buffer = builder.newBuffer(node.dtype, sizeOf(node.shape), -1);
    builder.steps.push({ kind: "upload", input: i, target: { buffer, elementOffset: 0, dtype: node.dtype } });
    builder.setValue(node, { kind: "buffer", buffer, view: { strides: stridesOf(node.shape), offset: 0 }, dtype: node.dtype });
  });

  const materialized: number[] = [];
  const ownsBuffer = new Set<number>(schedule.boundary.map((node) => (builder.valueOf(node) as Value & { kind: "buffer" }).buffer));
  const positions = new Map(schedule.order.map((node, position) => [node, position]));
  const usedOutside = (node: Node): boolean => node.consumers > (uses.get(node) ?? 0) - (outputSet.has(node) ? 1 : 0);

  const finish = (node: Node, value: Value): void => {
    const mustMaterialize = value.kind === "expr" && ((uses.get(node) ?? 0) > 1 || usedOutside(node) || outputSet.has(node) || builder.isLarge(value.expr));
    const final = mustMaterialize ? builder.materialize(value, node.shape, node.dtype) : value;
    builder.setValue(node, final);
    // A view of another node's buffer is not this node's own data.
    if (final.kind === "buffer" && isDense(final.view, node.shape) && !ownsBuffer.has(final.buffer)) {
      ownsBuffer.add(final.buffer);
      materialized.push(positions.get(node) as number);
    }
  };
  const lowerPlain = (node: Node): void => finish(node, lowerNode(builder, node));

  const isPrivate = (node: Node): boolean => uses.get(node) === 1 && !outputSet.has(node) && !usedOutside(node);
  const epilogues = new EpilogueFusion(schedule.order, isPrivate);
  for (const node of schedule.order) {
    if (epilogues.covers(node)) epilogues.lower(builder, node, { lowerPlain, finish });
    else lowerPlain(node);
  }

  const outputValues = outputs.map((node) => builder.materialize(builder.valueOf(node), node.shape, node.dtype));
  for (const value of outputValues) builder.buffers[value.buffer].lastStep = Infinity;
  return { builder, outputValues, materialized };
}

export function lowerNode(builder: ProgramBuilder, node: Node): Value {
  const prim = node.prim as PrimitiveName;
  const lowering = loweringOf(prim);
  const params = node.params as ParamsOf<typeof prim>;
  const inputs = node.inputs.map((i) => builder.valueOf(i));

  switch (lowering.kind) {
    case "elementwise":
      return { kind: "expr", expr: lowering.expr(inputs.map((v) => builder.asExpr(v)), node.aval, params) };
    case "view":
      return lowerView(builder, node, inputs[0], lowering.view);
    case "matmul":
      if (!hasElements(node)) return lowerReference(builder, node, inputs);
      return node.dtype === "float32" ? planMatmul(builder, node, inputs) : planDirectMatmul(builder, node, inputs);
    case "reduce":
      if (node.dtype === "int32" && sizeOf(node.inputs[0].shape) > 0) return lowerInt32Reduce(builder, node, inputs[0]);
      return isFloatDType(node.dtype) && sizeOf(node.inputs[0].shape) > 0 ? lowerReduce(builder, node, inputs[0]) : lowerReference(builder, node, inputs);
    case "argReduce":
      return isFloatDType(node.inputs[0].dtype) ? lowerArgReduce(builder, node, inputs[0]) : lowerReference(builder, node, inputs);
    case "softmax":
      return node.dtype === "float32" && sizeOf(node.shape) > 0 ? planSoftmax(builder, node, inputs[0]) : lowerReference(builder, node, inputs);
    case "layerNorm":
      return isFloat32Rows(node) ? planLayerNorm(builder, node, inputs) : lowerReference(builder, node, inputs);
    case "layerNormGrad":
      return isFloat32Rows(node) ? planLayerNormGrad(builder, node, inputs) : lowerReference(builder, node, inputs);
    case "gather":
    case "scatterAdd":
    case "pad":
    case "concat":
      return lowerLayout(builder, node, inputs, lowering.kind);
    case "random": {
      const kernel = randomKernel({ kind: lowering.draw, count: sizeOf(node.shape), dtype: node.dtype });
      const key = builder.materialize(inputs[0], node.inputs[0].shape, node.inputs[0].dtype);
      return emitUnaryKernel(builder, node, key, kernel.kernel, `random ${lowering.draw}`);
    }
    case "checkIndices":
      return lowerCheckIndices(builder, node, inputs[0]);
    case "reference":
      return lowerReference(builder, node, inputs);
    default:
      return lowering satisfies never;
  }
}

/** True when the output and every input have at least one element. */
function hasElements(node: Node): boolean {
  return node.inputs.every((i) => sizeOf(i.shape) > 0) && sizeOf(node.shape) > 0;
}

/** True for float32 row kernels with at least one row of at least one element. */
function isFloat32Rows(node: Node): boolean {
  return node.dtype === "float32" && sizeOf(node.inputs[0].shape) > 0;
}

function lowerView(
  builder: ProgramBuilder,
  node: Node,
  input: Value,
  view: (input: StridedView, inAval: Node["aval"], out: Node["aval"], params: never) => StridedView | null,
): Value {
  const source = node.inputs[0];
  const buffered = input.kind === "buffer" ? input : builder.materialize(input, source.shape, source.dtype);
  const params = node.params as never;
  const direct = view(buffered.view, source.aval, node.aval, params);
  if (direct !== null) return { ...buffered, view: direct };

  const dense = builder.materialize(buffered, source.shape, source.dtype);
  const again = view(dense.view, source.aval, node.aval, params);
  if (again === null) throw new InternalError(`wasm lowering: ${node.prim} has no view of a dense input`);
  return { ...dense, view: again };
}

/**
 * Emits one reduce kernel that evaluates the input, a pending expression or a (possibly strided) buffer
 * view, inside its loop, so the input is never written to a buffer of its own.
 */
function lowerReduce(builder: ProgramBuilder, node: Node, input: Value): Value {
  const source = node.inputs[0];
  const kinds = { reduceSum: "sum", reduceMax: "max", reduceMin: "min", reduceProd: "prod" } as const;
  const kind = kinds[node.prim as keyof typeof kinds];
  const { axes } = node.params as ParamsOf<"reduceSum">;
  const { local, leaves } = builder.localize(builder.asExpr(input));
  // A rank-0 input reduces like a vector of one element.
  const scalar = source.shape.length === 0;
  const kernel = fusedReduceKernel({
    shape: scalar ? [1] : [...source.shape],
    axes: [...axes],
    kind,
    inputs: leaves.map((leaf) => ({ dtype: leaf.dtype, strides: scalar ? [0] : [...leaf.view.strides] })),
    expr: local,
  });
  const refs = leaves.map((leaf) => builder.ref(leaf.buffer, leaf.view.offset, leaf.dtype));
  const output = builder.newBuffer(node.dtype, sizeOf(node.shape));
  const outRef = builder.ref(output, 0, node.dtype);
  const label = local.kind === "input" ? `reduce ${kind}` : `elementwise+reduce ${kind}`;
  builder.steps.push({ kind: "kernel", label, kernel: kernel.kernel, args: [...refs, outRef] });
  return { kind: "buffer", buffer: output, view: { strides: stridesOf(node.shape), offset: 0 }, dtype: node.dtype };
}

function lowerInt32Reduce(builder: ProgramBuilder, node: Node, input: Value): Value {
  const source = node.inputs[0];
  const dense = builder.materialize(input, source.shape, "int32");
  const kinds = { reduceSum: "sum", reduceMax: "max", reduceMin: "min", reduceProd: "prod" } as const;
  const kind = kinds[node.prim as keyof typeof kinds];
  const { axes } = node.params as ParamsOf<"reduceSum">;
  const kernel = int32ReduceKernel({ shape: [...source.shape], axes: [...axes], kind });
  return emitUnaryKernel(builder, node, dense, kernel.kernel, `reduce ${kind} int32`);
}

function lowerArgReduce(builder: ProgramBuilder, node: Node, input: Value): Value {
  const source = node.inputs[0];
  const dense = builder.materialize(input, source.shape, source.dtype);
  const { axis } = node.params as ParamsOf<"argmax">;
  const kind = node.prim === "argmax" ? "max" : "min";
  const kernel = argReduceKernel({ shape: [...source.shape], axis, kind, dtype: source.dtype as "float32" | "float64" });
  return emitUnaryKernel(builder, node, dense, kernel.kernel, `arg${kind}`);
}

/** Checks the indices in place; the node's value is its (dense) input, so nothing is copied. */
function lowerCheckIndices(builder: ProgramBuilder, node: Node, input: Value): Value {
  const { bound, op } = node.params as ParamsOf<"checkIndices">;
  const count = sizeOf(node.shape);
  const dense = builder.materialize(input, node.shape, "int32");
  if (count === 0) return dense;
  const indices = builder.ref(dense.buffer, dense.view.offset, "int32");
  builder.steps.push({ kind: "kernel", label: "checkIndices", kernel: checkIndicesKernel(count, bound), args: [indices], indexCheck: { op, indices, bound } });
  return dense;
}

/** Emits a kernel from one dense input buffer to a new dense output buffer of the node's shape. */
function emitUnaryKernel(
  builder: ProgramBuilder,
  node: Node,
  input: Value & { kind: "buffer" },
  kernel: CompiledKernel,
  label: string,
): Value {
  const inRef = builder.ref(input.buffer, input.view.offset, input.dtype);
  const output = builder.newBuffer(node.dtype, sizeOf(node.shape));
  const outRef = builder.ref(output, 0, node.dtype);
  if (sizeOf(node.shape) > 0) builder.steps.push({ kind: "kernel", label, kernel, args: [inRef, outRef] });
  return { kind: "buffer", buffer: output, view: { strides: stridesOf(node.shape), offset: 0 }, dtype: node.dtype };
}

/** Runs the primitive's reference implementation on dense views of device memory. */
export function lowerReference(builder: ProgramBuilder, node: Node, inputs: readonly Value[]): Value {
  const prim = node.prim as PrimitiveName;
  const rule = evalRule(prim);
  const avals = node.inputs.map((i) => i.aval);
  const params = node.params as ParamsOf<typeof prim>;
  const out = node.aval;
  const dense = inputs.map((v, i) => builder.materialize(v, node.inputs[i].shape, node.inputs[i].dtype));
  const refs = dense.map((v, i) => ({ ref: builder.ref(v.buffer, v.view.offset, v.dtype), length: sizeOf(node.inputs[i].shape) }));
  const output = builder.newBuffer(node.dtype, sizeOf(node.shape));
  builder.steps.push({
    kind: "reference",
    label: prim,
    inputs: refs,
    target: builder.ref(output, 0, node.dtype),
    run: (storages) => rule.impl(storages, avals, params, out),
  });
  return { kind: "buffer", buffer: output, view: { strides: stridesOf(node.shape), offset: 0 }, dtype: node.dtype };
}
