// Lowering the data-movement primitives that are not views: gather, scatter-add, pad and concat.

import type { Node } from "../../core/node.js";
import type { ParamsOf } from "../../core/primitive-names.js";
import { sizeOf, stridesOf } from "../../core/shape.js";
import { copyKernel, padKernel } from "../../runtime/wasm/layout/copy.js";
import { gatherKernel, scatterAddKernel } from "../../runtime/wasm/layout/indexing.js";
import type { ProgramBuilder, Value } from "./builder.js";

type LayoutKind = "gather" | "scatterAdd" | "pad" | "concat";

/** Wraps a new dense buffer of the node's shape as a value. */
function denseResult(builder: ProgramBuilder, node: Node, buffer: number): Value {
  return { kind: "buffer", buffer, view: { strides: stridesOf(node.shape), offset: 0 }, dtype: node.dtype };
}

export function lowerLayout(builder: ProgramBuilder, node: Node, inputs: readonly Value[], kind: LayoutKind): Value {
  const dense = inputs.map((v, i) => builder.materialize(v, node.inputs[i].shape, node.inputs[i].dtype));
  const refs = dense.map((v) => builder.ref(v.buffer, v.view.offset, v.dtype));
  const output = builder.newBuffer(node.dtype, sizeOf(node.shape));
  const outRef = builder.ref(output, 0, node.dtype);
  if (sizeOf(node.shape) === 0) return denseResult(builder, node, output);

  switch (kind) {
    case "gather": {
      const [x, indices] = node.inputs;
      const { axis } = node.params as ParamsOf<"gather">;
      const kernel = gatherKernel({ shape: [...x.shape], axis, count: sizeOf(indices.shape), dtype: x.dtype });
      const indexCheck = { op: "gather", indices: refs[1], bound: x.shape[axis] };
      builder.steps.push({ kind: "kernel", label: "gather", kernel: kernel.kernel, args: [...refs, outRef], indexCheck });
      break;
    }
    case "scatterAdd": {
      const [x, indices] = node.inputs;
      const { axis } = node.params as ParamsOf<"scatterAdd">;
      const kernel = scatterAddKernel({ shape: [...x.shape], axis, count: sizeOf(indices.shape), dtype: x.dtype });
      const indexCheck = { op: "scatterAdd", indices: refs[1], bound: x.shape[axis] };
      builder.steps.push({ kind: "kernel", label: "scatterAdd", kernel: kernel.kernel, args: [...refs, outRef], indexCheck });
      break;
    }
    case "pad": {
      const { low, high, interior, value } = node.params as ParamsOf<"pad">;
      const kernel = padKernel({ shape: [...node.inputs[0].shape], dtype: node.dtype, low, high, interior, value });
      builder.steps.push({ kind: "kernel", label: "pad", kernel: kernel.kernel, args: [refs[0], outRef] });
      break;
    }
    case "concat":
      emitConcat(builder, node, refs, output);
      break;
    default:
      return kind satisfies never;
  }
  return denseResult(builder, node, output);
}

/** Emits one strided copy per operand into its block of the output along the concatenation axis. */
function emitConcat(builder: ProgramBuilder, node: Node, refs: ReturnType<ProgramBuilder["ref"]>[], output: number): void {
  const { axis } = node.params as ParamsOf<"concat">;
  const outStrides = stridesOf(node.shape);
  let start = 0;
  node.inputs.forEach((part, i) => {
    const offset = start * outStrides[axis];
    start += part.shape[axis];
    if (sizeOf(part.shape) === 0) return;
    const kernel = copyKernel({ shape: [...part.shape], dtype: node.dtype, srcStrides: stridesOf(part.shape), dstStrides: outStrides, dstOffset: offset });
    const outRef = builder.ref(output, 0, node.dtype);
    builder.steps.push({ kind: "kernel", label: "concat", kernel: kernel.kernel, args: [refs[i], outRef] });
  });
}
