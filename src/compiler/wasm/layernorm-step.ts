// Lowering layerNorm and layerNormGrad of float32 data to the layer norm row kernels.

import type { Node } from "../../core/node.js";
import type { ParamsOf } from "../../core/primitive-names.js";
import { sizeOf, stridesOf } from "../../core/shape.js";
import { layerNormBackwardKernel, layerNormForwardKernel, layerNormStatsKernel } from "../../runtime/wasm/rows/layernorm.js";
import type { ProgramBuilder, Value } from "./builder.js";

/** Materializes each input densely and returns [rows, cols] of x (the second input of layerNormGrad, else the first). */
function denseInputs(builder: ProgramBuilder, node: Node, inputs: readonly Value[]): [(Value & { kind: "buffer" })[], number, number] {
  const dense = inputs.map((v, i) => builder.materialize(v, node.inputs[i].shape, "float32"));
  const x = node.prim === "layerNormGrad" ? node.inputs[1] : node.inputs[0];
  const cols = x.shape[x.shape.length - 1];
  return [dense, sizeOf(x.shape) / cols, cols];
}

const denseValue = (buffer: number, shape: readonly number[]): Value => ({ kind: "buffer", buffer, view: { strides: stridesOf(shape), offset: 0 }, dtype: "float32" });

/** Emits the forward kernel. The row statistics it writes go to scratch buffers that nothing reads. */
export function planLayerNorm(builder: ProgramBuilder, node: Node, inputs: readonly Value[]): Value {
  const { eps } = node.params as ParamsOf<"layerNorm">;
  const [dense, rows, cols] = denseInputs(builder, node, inputs);
  const kernel = layerNormForwardKernel(rows, cols, eps);
  const inputRefs = dense.map((v) => builder.ref(v.buffer, v.view.offset, "float32"));
  const output = builder.newBuffer("float32", rows * cols);
  const stats = [builder.newBuffer("float32", rows), builder.newBuffer("float32", rows)];
  const outputRefs = [output, ...stats].map((b) => builder.ref(b, 0, "float32"));
  builder.steps.push({
    kind: "kernel",
    label: "layerNorm",
    kernel: kernel.kernel,
    args: [...inputRefs, ...outputRefs],
  });
  return denseValue(output, node.shape);
}

/**
 * Emits the statistics kernel and then the backward kernel, which writes dx, dweight and dbias into the
 * packed output. NOTE: the statistics are recomputed from x, because the forward pass usually ran in an
 * earlier program. This costs two more reads of x per row.
 */
export function planLayerNormGrad(builder: ProgramBuilder, node: Node, inputs: readonly Value[]): Value {
  const { eps } = node.params as ParamsOf<"layerNormGrad">;
  const [dense, rows, cols] = denseInputs(builder, node, inputs);
  const [dy, x, w] = dense.map((v) => ({ buffer: v.buffer, offset: v.view.offset }));

  const stats = [builder.newBuffer("float32", rows), builder.newBuffer("float32", rows)];
  const statsKernel = layerNormStatsKernel(rows, cols, eps);
  builder.steps.push({
    kind: "kernel",
    label: "layerNormStats",
    kernel: statsKernel.kernel,
    args: [builder.ref(x.buffer, x.offset, "float32"), ...stats.map((b) => builder.ref(b, 0, "float32"))],
  });

  const output = builder.newBuffer("float32", (rows + 2) * cols);
  const backward = layerNormBackwardKernel(rows, cols);
  const refs = [
    ...[dy, x, w].map((v) => builder.ref(v.buffer, v.offset, "float32")),
    ...stats.map((b) => builder.ref(b, 0, "float32")),
    ...[0, rows * cols, (rows + 1) * cols].map((offset) => builder.ref(output, offset, "float32")),
  ];
  builder.steps.push({
    kind: "kernel",
    label: "layerNormGrad",
    kernel: backward.kernel,
    args: refs,
  });
  return denseValue(output, node.shape);
}
