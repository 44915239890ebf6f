// Tensor methods: `x.add(y)`, `x.matmul(w)`, `x.sum({axis})` delegate to the public op functions.

import type { DType } from "../core/dtype.js";
import { Tensor } from "../core/tensor.js";
import * as act from "./activation.js";
import * as ew from "./elementwise.js";
import * as idx from "./indexing.js";
import * as lay from "./layout.js";
import * as lin from "./linalg.js";
import * as red from "./reduction.js";
import type { Operand } from "./lift.js";

declare module "../core/tensor.js" {
  interface Tensor {
    add(other: Operand): Tensor;
    sub(other: Operand): Tensor;
    mul(other: Operand): Tensor;
    div(other: Operand): Tensor;
    pow(other: Operand): Tensor;
    maximum(other: Operand): Tensor;
    minimum(other: Operand): Tensor;
    neg(): Tensor;
    exp(): Tensor;
    log(): Tensor;
    log1p(): Tensor;
    sqrt(): Tensor;
    rsqrt(): Tensor;
    abs(): Tensor;
    sign(): Tensor;
    sin(): Tensor;
    cos(): Tensor;
    tanh(): Tensor;
    sigmoid(): Tensor;
    relu(): Tensor;
    erf(): Tensor;
    gelu(options?: act.GeluOptions): Tensor;
    silu(): Tensor;
    square(): Tensor;
    clip(min?: Operand | null, max?: Operand | null): Tensor;
    equal(other: Operand): Tensor;
    notEqual(other: Operand): Tensor;
    less(other: Operand): Tensor;
    lessEqual(other: Operand): Tensor;
    greater(other: Operand): Tensor;
    greaterEqual(other: Operand): Tensor;
    logicalAnd(other: Operand): Tensor;
    logicalOr(other: Operand): Tensor;
    logicalNot(): Tensor;
    cast(dtype: DType): Tensor;
    sum(arg?: red.ReduceArg): Tensor;
    mean(arg?: red.ReduceArg): Tensor;
    max(arg?: red.ReduceArg): Tensor;
    min(arg?: red.ReduceArg): Tensor;
    prod(arg?: red.ReduceArg): Tensor;
    var(options?: red.VarOptions | number | readonly number[]): Tensor;
    argmax(arg?: number | red.ArgReduceOptions): Tensor;
    argmin(arg?: number | red.ArgReduceOptions): Tensor;
    logsumexp(arg?: red.ReduceArg): Tensor;
    softmax(axis?: number): Tensor;
    logSoftmax(axis?: number): Tensor;
    matmul(other: Tensor): Tensor;
    reshape(shape: readonly number[]): Tensor;
    transpose(perm?: readonly number[]): Tensor;
    permute(perm: readonly number[]): Tensor;
    swapAxes(a: number, b: number): Tensor;
    broadcastTo(shape: readonly number[]): Tensor;
    slice(specs: Parameters<typeof lay.slice>[1]): Tensor;
    squeeze(axis?: number | readonly number[]): Tensor;
    unsqueeze(axis: number): Tensor;
    flatten(): Tensor;
    flip(axis?: number | readonly number[]): Tensor;
    gather(indices: Tensor, axis?: number): Tensor;
    /** Matrix transpose of the last two axes (all axes reversed for rank < 2), like PyTorch's `.T` for matrices. */
    readonly T: Tensor;
  }
}

type Method = (this: Tensor, ...args: never[]) => Tensor;

const methods: Record<string, Method> = {
  add(other: Operand) { return ew.add(this, other); },
  sub(other: Operand) { return ew.sub(this, other); },
  mul(other: Operand) { return ew.mul(this, other); },
  div(other: Operand) { return ew.div(this, other); },
  pow(other: Operand) { return ew.pow(this, other); },
  maximum(other: Operand) { return ew.maximum(this, other); },
  minimum(other: Operand) { return ew.minimum(this, other); },
  neg() { return ew.neg(this); },
  exp() { return ew.exp(this); },
  log() { return ew.log(this); },
  log1p() { return ew.log1p(this); },
  sqrt() { return ew.sqrt(this); },
  rsqrt() { return ew.rsqrt(this); },
  abs() { return ew.abs(this); },
  sign() { return ew.sign(this); },
  sin() { return ew.sin(this); },
  cos() { return ew.cos(this); },
  tanh() { return ew.tanh(this); },
  sigmoid() { return ew.sigmoid(this); },
  relu() { return ew.relu(this); },
  erf() { return ew.erf(this); },
  gelu(options?: act.GeluOptions) { return act.gelu(this, options); },
  silu() { return act.silu(this); },
  square() { return ew.square(this); },
  clip(min?: Operand | null, max?: Operand | null) { return ew.clip(this, min, max); },
  equal(other: Operand) { return ew.equal(this, other); },
  notEqual(other: Operand) { return ew.notEqual(this, other); },
  less(other: Operand) { return ew.less(this, other); },
  lessEqual(other: Operand) { return ew.lessEqual(this, other); },
  greater(other: Operand) { return ew.greater(this, other); },
  greaterEqual(other: Operand) { return ew.greaterEqual(this, other); },
  logicalAnd(other: Operand) { return ew.logicalAnd(this, other); },
  logicalOr(other: Operand) { return ew.logicalOr(this, other); },
  logicalNot() { return ew.logicalNot(this); },
  cast(dtype: DType) { return ew.cast(this, dtype); },
  sum(arg?: red.ReduceArg) { return red.sum(this, arg); },
  mean(arg?: red.ReduceArg) { return red.mean(this, arg); },
  max(arg?: red.ReduceArg) { return red.max(this, arg); },
  min(arg?: red.ReduceArg) { return red.min(this, arg); },
  prod(arg?: red.ReduceArg) { return red.prod(this, arg); },
  var(options?: red.VarOptions | number | readonly number[]) { return red.variance(this, options); },
  argmax(arg?: number | red.ArgReduceOptions) { return red.argmax(this, arg); },
  argmin(arg?: number | red.ArgReduceOptions) { return red.argmin(this, arg); },
  logsumexp(arg?: red.ReduceArg) { return red.logsumexp(this, arg); },
  softmax(axis?: number) { return red.softmax(this, axis); },
  logSoftmax(axis?: number) { return red.logSoftmax(this, axis); },
  matmul(other: Tensor) { return lin.matmul(this, other); },
  reshape(shape: readonly number[]) { return lay.reshape(this, shape); },
  transpose(perm?: readonly number[]) { return lay.transpose(this, perm); },
  permute(perm: readonly number[]) { return lay.transpose(this, perm); },
  swapAxes(a: number, b: number) { return lay.swapAxes(this, a, b); },
  broadcastTo(shape: readonly number[]) { return lay.broadcastTo(this, shape); },
  slice(specs: Parameters<typeof lay.slice>[1]) { return lay.slice(this, specs); },
  squeeze(axis?: number | readonly number[]) { return lay.squeeze(this, axis); },
  unsqueeze(axis: number) { return lay.unsqueeze(this, axis); },
  flatten() { return lay.flatten(this); },
  flip(axis?: number | readonly number[]) { return lay.flip(this, axis); },
  gather(indices: Tensor, axis?: number) { return idx.gather(this, indices, axis); },
};

for (const [name, method] of Object.entries(methods)) {
  Object.defineProperty(Tensor.prototype, name, { value: method, writable: true, configurable: true });
}

Object.defineProperty(Tensor.prototype, "T", {
  get(this: Tensor) {
    return this.ndim < 2 ? lay.transpose(this) : lay.swapAxes(this, -1, -2);
  },
  configurable: true,
});
