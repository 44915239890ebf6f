// The closed set of primitives and the parameters each one carries. Every rule table is typed over
// this interface, so adding a primitive here without its rules fails `tsc`.

import type { DType } from "./dtype.js";

type NoParams = Record<string, never>;

export interface ParamsByPrimitive {
  // Unary elementwise.
  neg: NoParams;
  exp: NoParams;
  log: NoParams;
  log1p: NoParams;
  sqrt: NoParams;
  rsqrt: NoParams;
  abs: NoParams;
  sign: NoParams;
  sin: NoParams;
  cos: NoParams;
  tanh: NoParams;
  sigmoid: NoParams;
  relu: NoParams;
  erf: NoParams;
  logicalNot: NoParams;
  cast: { readonly dtype: DType };
  identity: NoParams;
  stopGradient: NoParams;

  // Binary elementwise; both operands have the output's shape and dtype.
  add: NoParams;
  sub: NoParams;
  mul: NoParams;
  div: NoParams;
  pow: NoParams;
  maximum: NoParams;
  minimum: NoParams;
  equal: NoParams;
  notEqual: NoParams;
  less: NoParams;
  lessEqual: NoParams;
  greater: NoParams;
  greaterEqual: NoParams;
  logicalAnd: NoParams;
  logicalOr: NoParams;
  where: NoParams;

  // Reductions remove `axes`; keepdims is a reshape in the public op.
  reduceSum: { readonly axes: readonly number[] };
  reduceMax: { readonly axes: readonly number[] };
  reduceMin: { readonly axes: readonly number[] };
  reduceProd: { readonly axes: readonly number[] };
  argmax: { readonly axis: number };
  argmin: { readonly axis: number };

  // Normalized exponentials along one axis; the output has the input's shape and float dtype.
  softmax: { readonly axis: number };
  logSoftmax: { readonly axis: number };

  // Layer norm over the last axis of x [..., C] with weight [C] and bias [C], all of one float dtype.
  layerNorm: { readonly eps: number };
  /** Inputs dy, x and weight of layerNorm; the output [rows + 2, C] packs dx (as rows), dweight, then dbias. */
  layerNormGrad: { readonly eps: number };

  // [..., M, K] x [..., K, N] with equal batch dimensions.
  matmul: NoParams;

  // Layout.
  reshape: { readonly shape: readonly number[] };
  transpose: { readonly perm: readonly number[] };
  broadcastTo: { readonly shape: readonly number[] };
  slice: { readonly start: readonly number[]; readonly stop: readonly number[]; readonly step: readonly number[] };
  pad: {
    readonly low: readonly number[];
    readonly high: readonly number[];
    readonly interior: readonly number[];
    readonly value: number;
  };
  concat: { readonly axis: number };
  flip: { readonly axes: readonly number[] };

  // Indexing along one axis: out[o, j, i] = x[o, indices[j], i].
  gather: { readonly axis: number };
  scatterAdd: { readonly axis: number };
  /** Passes int32 indices through unchanged after checking each lies in [0, bound); `op` names the caller in the error. */
  checkIndices: { readonly bound: number; readonly op: string };

  // Counter-based random numbers; the first input is an int32 key of shape [2].
  randomBits: { readonly shape: readonly number[] };
  randomUniform: { readonly shape: readonly number[]; readonly dtype: DType };
  randomNormal: { readonly shape: readonly number[]; readonly dtype: DType };

  // Collectives along named mesh axes, bound only while nb.shardMap traces its body. Shapes are local
  // (per device). A group is the devices that differ only along the named axes, in rank order.
  /** Sum, mean or max over the group along `axes`. */
  psum: { readonly axes: readonly string[] };
  pmean: { readonly axes: readonly string[] };
  pmax: { readonly axes: readonly string[] };
  /** Concatenates the group's values along `dim` in rank order. */
  allGatherAxis: { readonly axis: string; readonly dim: number };
  /** Sums over the group, then keeps chunk `rank` of `dim`. */
  psumScatter: { readonly axis: string; readonly dim: number };
  /** Sends chunk r of `splitDim` to rank r and concatenates the chunks received along `concatDim` in rank order. */
  allToAllAxis: { readonly axis: string; readonly splitDim: number; readonly concatDim: number };
  /** Each [source, target] pair of ranks sends the source's value to the target; other ranks get zeros. */
  ppermute: { readonly axis: string; readonly pairs: readonly (readonly [source: number, target: number])[] };
  /** This device's rank along `axis`, an int32 scalar. */
  axisIndex: { readonly axis: string };
  /**
   * The identity, marking a value that is the same on every device of `axes` as used per device from
   * here on, like JAX's pvary. Its transpose sums the devices' cotangents. shardMap inserts it, not users.
   */
  pvary: { readonly axes: readonly string[] };
  /**
   * Output `output` of an nb.shardMap call whose arguments are being differentiated. It is created with
   * its value, so it never runs. Its inputs are the call's argument tensors.
   */
  shardMapCall: { readonly output: number };
}

export type PrimitiveName = keyof ParamsByPrimitive;
export type ParamsOf<K extends PrimitiveName> = ParamsByPrimitive[K];
