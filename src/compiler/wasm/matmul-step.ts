// Matmul lowering. An operand is read in place when it is a row-major or transposed matrix with a
// uniform batch stride (0 for a broadcast batch). Any other operand is first copied to a dense buffer.

import type { Node } from "../../core/node.js";
import { sizeOf, stridesOf } from "../../core/shape.js";
import { directMatmulKernel, type DirectMatmulDType } from "../../runtime/wasm/matmul/direct.js";
import { matmulKernel } from "../../runtime/wasm/matmul/kernel.js";
import type { Activation } from "../../runtime/wasm/matmul/micro.js";
import type { ProgramBuilder, Value } from "./builder.js";

interface Operand {
  readonly value: Value & { kind: "buffer" };
  /** The stored matrix is the transpose of the logical one. */
  readonly transposed: boolean;
  readonly batchStride: number;
}

/** "N" when [rows, cols] is row-major in place, "T" when it is column-major, null otherwise. */
function matrixLayout(rows: number, cols: number, rowStride: number, colStride: number): "N" | "T" | null {
  if ((cols === 1 || colStride === 1) && (rows === 1 || rowStride === cols)) return "N";
  if ((rows === 1 || rowStride === 1) && (cols === 1 || colStride === rows)) return "T";
  return null;
}

/** Returns the single stride between consecutive matrices of the flattened batch, or null if there is none. */
function uniformBatchStride(batchShape: readonly number[], strides: readonly number[]): number | null {
  if (batchShape.length === 0) return 0;
  if (batchShape.every((d, i) => d === 1 || strides[i] === 0)) return 0;
  const inner = strides[strides.length - 1];
  let expected = inner;
  for (let i = batchShape.length - 1; i >= 0; i--) {
    if (batchShape[i] !== 1 && strides[i] !== expected) return null;
    expected *= batchShape[i];
  }
  return inner;
}

function prepareOperand(builder: ProgramBuilder, node: Node, value: Value): Operand {
  const shape = node.shape;
  const r = shape.length;
  const [rows, cols] = [shape[r - 2], shape[r - 1]];
  if (value.kind === "buffer") {
    const strides = value.view.strides;
    const layout = matrixLayout(rows, cols, strides[r - 2], strides[r - 1]);
    const batchStride = uniformBatchStride(shape.slice(0, -2), strides.slice(0, -2));
    if (layout !== null && batchStride !== null) return { value, transposed: layout === "T", batchStride };
  }
  const dense = builder.materialize(value, shape, node.dtype);
  return { value: dense, transposed: false, batchStride: rows * cols };
}

/** A bias vector along the output's last axis, added to every row before the activation. */
export interface MatmulEpilogue {
  readonly bias: Value & { kind: "buffer" };
  readonly activation: Activation;
}

/** Emits one batched matmul kernel, with the epilogue when given; the result is a new dense buffer. */
export function planMatmul(builder: ProgramBuilder, node: Node, inputs: readonly Value[], epilogue?: MatmulEpilogue): Value {
  const [aNode, bNode] = node.inputs;
  const a = prepareOperand(builder, aNode, inputs[0]);
  const b = prepareOperand(builder, bNode, inputs[1]);
  const r = node.shape.length;
  const batch = sizeOf(node.shape.slice(0, -2));
  const [m, k, n] = [aNode.shape[r - 2], aNode.shape[r - 1], bNode.shape[r - 1]];

  const kernel = matmulKernel({
    batch, m, k, n,
    transA: a.transposed,
    transB: b.transposed,
    batchStrideA: a.batchStride,
    batchStrideB: b.batchStride,
    bias: epilogue !== undefined,
    activation: epilogue?.activation ?? "none",
  });
  const aRef = builder.ref(a.value.buffer, a.value.view.offset, "float32");
  const bRef = builder.ref(b.value.buffer, b.value.view.offset, "float32");
  const output = builder.newBuffer("float32", sizeOf(node.shape));
  const work = builder.newBuffer("float32", Math.ceil(kernel.workBytes / 4));
  const outRef = builder.ref(output, 0, "float32");
  const workRef = builder.ref(work, 0, "float32");
  if (epilogue === undefined) {
    builder.steps.push({ kind: "kernel", label: "matmul", kernel: kernel.kernel, args: [aRef, bRef, outRef, 0, workRef] });
  } else {
    const biasRef = builder.ref(epilogue.bias.buffer, epilogue.bias.view.offset, "float32");
    builder.steps.push({
      kind: "kernel",
      label: epilogue.activation === "none" ? "matmul+bias" : `matmul+bias+${epilogue.activation}`,
      kernel: kernel.kernel,
      args: [aRef, bRef, outRef, biasRef, workRef],
    });
  }
  return { kind: "buffer", buffer: output, view: { strides: stridesOf(node.shape), offset: 0 }, dtype: "float32" };
}

/** Emits one batched float64 or int32 matmul kernel, reading transposed operands in place like planMatmul. */
export function planDirectMatmul(builder: ProgramBuilder, node: Node, inputs: readonly Value[]): Value {
  const dtype = node.dtype as DirectMatmulDType;
  const [aNode, bNode] = node.inputs;
  const a = prepareOperand(builder, aNode, inputs[0]);
  const b = prepareOperand(builder, bNode, inputs[1]);
  const r = node.shape.length;
  const [m, k, n] = [aNode.shape[r - 2], aNode.shape[r - 1], bNode.shape[r - 1]];
  const kernel = directMatmulKernel({
    dtype, batch: sizeOf(node.shape.slice(0, -2)), m, k, n,
    transA: a.transposed,
    transB: b.transposed,
    batchStrideA: a.batchStride,
    batchStrideB: b.batchStride,
  });
  const aRef = builder.ref(a.value.buffer, a.value.view.offset, dtype);
  const bRef = builder.ref(b.value.buffer, b.value.view.offset, dtype);
  const output = builder.newBuffer(dtype, sizeOf(node.shape));
  const work = builder.newBuffer(dtype, Math.max(1, kernel.workBytes / (dtype === "float64" ? 8 : 4)));
  builder.steps.push({
    kind: "kernel",
    label: `matmul ${dtype}`,
    kernel: kernel.kernel,
    args: [aRef, bRef, builder.ref(output, 0, dtype), builder.ref(work, 0, dtype)],
  });
  return { kind: "buffer", buffer: output, view: { strides: stridesOf(node.shape), offset: 0 }, dtype };
}
