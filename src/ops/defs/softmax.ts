// softmax and logSoftmax along one axis, as primitives so that backends can run each as one row kernel.

import type { Aval } from "../../core/node.js";
import type { PrimitiveDef } from "../../core/rules.js";
import { formatShape } from "../../core/shape.js";
import type { Tensor } from "../../core/tensor.js";
import { DTypeError, InternalError } from "../../runtime/errors.js";
import { softmaxAlong, type SoftmaxKind } from "../../runtime/reference/softmax.js";
import { exp, mul, sub } from "../elementwise.js";
import { sum } from "../reduction.js";

function softmaxAval(prim: SoftmaxKind, x: Aval, axis: number): Aval {
  if (!Number.isInteger(axis) || axis < 0 || axis >= x.shape.length) {
    throw new InternalError(`${prim}: axis ${axis} is not an axis of ${formatShape(x.shape)}; the public op normalizes negative axes`);
  }
  if (x.dtype !== "float32" && x.dtype !== "float64") {
    throw new DTypeError(`${prim}: the input must be float32 or float64, got ${x.dtype}; cast it first`);
  }
  return x;
}

function softmaxDef<K extends SoftmaxKind>(kind: K, rules: Pick<PrimitiveDef<K>, "vjp" | "jvp">): PrimitiveDef<K> {
  return {
    abstractEval: ([x], { axis }) => softmaxAval(kind, x, axis),
    impl: ([x], [aval], { axis }, out) => softmaxAlong(x, aval.shape, axis, kind, out.dtype),
    ...rules,
  };
}

const sumAlong = (t: Tensor, axis: number): Tensor => sum(t, { axis, keepdims: true });

export const softmaxDefs = {
  softmax: softmaxDef("softmax", {
    vjp: (g, _x, y, { axis }) => [mul(y, sub(g, sumAlong(mul(g, y), axis)))], // dx = y (g - sum(g y))
    jvp: ([t], _x, y, { axis }) => (t === null ? null : mul(y, sub(t, sumAlong(mul(t, y), axis)))), // dy = y (t - sum(t y))
  }),
  logSoftmax: softmaxDef("logSoftmax", {
    vjp: (g, _x, y, { axis }) => [sub(g, mul(exp(y), sumAlong(g, axis)))], // dx = g - e^y sum(g)
    jvp: ([t], _x, y, { axis }) => (t === null ? null : sub(t, sumAlong(mul(exp(y), t), axis))), // dy = t - sum(e^y t)
  }),
};
