// The WebAssembly lowering of every primitive, one row each. Typed over all primitive names, so a new
// primitive without a lowering fails to compile.

import type { Lowering, LoweringTable, StridedView } from "../core/lowering.js";
import { stridesOf } from "../core/shape.js";
import type { PrimitiveName } from "../core/primitive-names.js";
import { binary, cast, unary, where, type BinaryOp, type UnaryOp } from "../runtime/wasm/elementwise/ir.js";

const reference = { kind: "reference" } as const;

function unaryRow<K extends PrimitiveName>(op: UnaryOp): Lowering<K> {
  return { kind: "elementwise", expr: ([x]) => unary(op, x) };
}

function binaryRow<K extends PrimitiveName>(op: BinaryOp): Lowering<K> {
  return { kind: "elementwise", expr: ([a, b]) => binary(op, a, b) };
}

function passThrough<K extends PrimitiveName>(): Lowering<K> {
  return { kind: "elementwise", expr: ([x]) => x };
}

function isContiguous(view: StridedView, shape: readonly number[]): boolean {
  const dense = stridesOf(shape);
  return shape.every((d, i) => d === 1 || view.strides[i] === dense[i]);
}

/**
 * Returns the view of a reshape that only inserts or removes axes of size 1, which keeps any strides,
 * as when a transposed weight gets a batch axis for matmul. Any other reshape of a strided view gets null.
 */
function unitAxesView(v: StridedView, inShape: readonly number[], outShape: readonly number[]): StridedView | null {
  const kept = inShape.flatMap((d, i) => (d === 1 ? [] : [v.strides[i]]));
  const inDims = inShape.filter((d) => d !== 1);
  const outDims = outShape.filter((d) => d !== 1);
  if (inDims.length !== outDims.length || inDims.some((d, i) => d !== outDims[i])) return null;
  let next = 0;
  return { strides: outShape.map((d) => (d === 1 ? 0 : kept[next++])), offset: v.offset };
}

export const lowerings: LoweringTable = {
  neg: unaryRow("neg"),
  exp: unaryRow("exp"),
  log: unaryRow("log"),
  log1p: unaryRow("log1p"),
  sqrt: unaryRow("sqrt"),
  rsqrt: unaryRow("rsqrt"),
  abs: unaryRow("abs"),
  sign: unaryRow("sign"),
  sin: unaryRow("sin"),
  cos: unaryRow("cos"),
  tanh: unaryRow("tanh"),
  sigmoid: unaryRow("sigmoid"),
  relu: unaryRow("relu"),
  erf: unaryRow("erf"),
  logicalNot: unaryRow("logicalNot"),
  cast: { kind: "elementwise", expr: ([x], _out, { dtype }) => cast(x, dtype) },
  identity: passThrough(),
  stopGradient: passThrough(),

  add: binaryRow("add"),
  sub: binaryRow("sub"),
  mul: binaryRow("mul"),
  div: binaryRow("div"),
  pow: binaryRow("pow"),
  maximum: binaryRow("max"),
  minimum: binaryRow("min"),
  equal: binaryRow("equal"),
  notEqual: binaryRow("notEqual"),
  less: binaryRow("less"),
  lessEqual: binaryRow("lessEqual"),
  greater: binaryRow("greater"),
  greaterEqual: binaryRow("greaterEqual"),
  logicalAnd: binaryRow("logicalAnd"),
  logicalOr: binaryRow("logicalOr"),
  where: { kind: "elementwise", expr: ([c, a, b]) => where(c, a, b) },

  reduceSum: { kind: "reduce" },
  reduceMax: { kind: "reduce" },
  reduceMin: { kind: "reduce" },
  reduceProd: { kind: "reduce" },
  argmax: { kind: "argReduce" },
  argmin: { kind: "argReduce" },

  softmax: { kind: "softmax" },
  logSoftmax: { kind: "softmax" },

  layerNorm: { kind: "layerNorm" },
  layerNormGrad: { kind: "layerNormGrad" },

  matmul: { kind: "matmul" },

  // Row-major data keeps its order under reshape, so a contiguous view only gets new strides.
  reshape: {
    kind: "view",
    view: (v, inAval, out) => (isContiguous(v, inAval.shape) ? { strides: stridesOf(out.shape), offset: v.offset } : unitAxesView(v, inAval.shape, out.shape)),
  },
  transpose: { kind: "view", view: (v, _in, _out, { perm }) => ({ strides: perm.map((p) => v.strides[p]), offset: v.offset }) },
  broadcastTo: { kind: "view", view: (v, inAval) => ({ strides: inAval.shape.map((d, i) => (d === 1 ? 0 : v.strides[i])), offset: v.offset }) },
  slice: {
    kind: "view",
    view: (v, _in, _out, { start, step }) => ({
      strides: v.strides.map((s, i) => s * step[i]),
      offset: v.offset + start.reduce((acc, s0, i) => acc + s0 * v.strides[i], 0),
    }),
  },
  flip: {
    kind: "view",
    view: (v, inAval, _out, { axes }) => ({
      strides: v.strides.map((s, i) => (axes.includes(i) ? -s : s)),
      offset: v.offset + axes.reduce((acc, a) => acc + Math.max(0, inAval.shape[a] - 1) * v.strides[a], 0),
    }),
  },
  pad: { kind: "pad" },
  concat: { kind: "concat" },

  gather: { kind: "gather" },
  scatterAdd: { kind: "scatterAdd" },
  checkIndices: { kind: "checkIndices" },

  randomBits: { kind: "random", draw: "bits" },
  randomUniform: { kind: "random", draw: "uniform" },
  randomNormal: { kind: "random", draw: "normal" },

  // nb.shardMap turns collectives into collective steps of its SPMD program, so none reaches a single
  // device. One that escapes its body runs the reference implementation, which raises a ShardingError.
  psum: reference,
  pmean: reference,
  pmax: reference,
  allGatherAxis: reference,
  psumScatter: reference,
  allToAllAxis: reference,
  ppermute: reference,
  axisIndex: reference,
  pvary: reference,
  // Created with its value, so no backend runs it; the reference implementation raises an InternalError.
  shardMapCall: reference,
};
