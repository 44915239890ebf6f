// Lowering softmax and logSoftmax of float32 data to the row kernel, which normalizes the last axis.

import type { Node } from "../../core/node.js";
import type { ParamsOf } from "../../core/primitive-names.js";
import { sizeOf, stridesOf } from "../../core/shape.js";
import { softmaxKernel } from "../../runtime/wasm/rows/softmax.js";
import type { ProgramBuilder, Value } from "./builder.js";

/**
 * Emits the row kernel over a float32 input with at least one element. For an axis other than the last,
 * the input is first copied with that axis moved last, and the result is read back through the inverse
 * permutation as a strided view, so no second copy is made.
 */
export function planSoftmax(builder: ProgramBuilder, node: Node, input: Value): Value {
  const kind = node.prim as "softmax" | "logSoftmax";
  const { axis } = node.params as ParamsOf<"softmax">;
  const shape = node.shape;
  const source = node.inputs[0];
  const perm = [...shape.keys()].filter((d) => d !== axis).concat(axis);
  const movedShape = perm.map((d) => shape[d]);

  const buffered = input.kind === "buffer" ? input : builder.materialize(input, source.shape, "float32");
  const movedView = { strides: perm.map((d) => buffered.view.strides[d]), offset: buffered.view.offset };
  const rowsInput = builder.materialize({ ...buffered, view: movedView }, movedShape, "float32");

  const cols = shape[axis];
  const kernel = softmaxKernel(kind, sizeOf(shape) / cols, cols);
  const inRef = builder.ref(rowsInput.buffer, rowsInput.view.offset, "float32");
  const output = builder.newBuffer("float32", sizeOf(shape));
  const outRef = builder.ref(output, 0, "float32");
  builder.steps.push({ kind: "kernel", label: kind, kernel: kernel.kernel, args: [inRef, outRef] });

  const movedStrides = stridesOf(movedShape);
  const strides = new Array<number>(shape.length);
  perm.forEach((d, k) => (strides[d] = movedStrides[k]));
  return { kind: "buffer", buffer: output, view: { strides, offset: 0 }, dtype: "float32" };
}
