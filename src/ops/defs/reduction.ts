// Reduction primitives: sum, max, min, prod over an axis set, and argmax/argmin along one axis.

import { bind } from "../../core/bind.js";
import type { Aval } from "../../core/node.js";
import { formatShape } from "../../core/shape.js";
import type { PrimitiveDef } from "../../core/rules.js";
import type { Tensor } from "../../core/tensor.js";
import { InternalError, ValueError } from "../../runtime/errors.js";
import { argReduce, reduce, type ReduceKind } from "../../runtime/reference/reduce.js";
import { cast, div, equal, mul, where } from "../elementwise.js";
import { sum } from "../reduction.js";

function reducedAval(prim: string, x: Aval, axes: readonly number[], needsElements: boolean): Aval {
  if (axes.some((a, i) => !Number.isInteger(a) || a < 0 || a >= x.shape.length || (i > 0 && a <= axes[i - 1]))) {
    throw new InternalError(`${prim}: axes [${axes.join(", ")}] must be sorted distinct axes of ${formatShape(x.shape)}`);
  }
  if (needsElements && axes.some((a) => x.shape[a] === 0)) {
    throw new ValueError(`${prim}: cannot reduce over an axis of size 0 in ${formatShape(x.shape)}, because the result has no identity value; check for empty inputs`);
  }
  return { shape: x.shape.filter((_, i) => !axes.includes(i)), dtype: x.dtype };
}

/** Broadcasts a reduced tensor back over the reduced axes of `shape`. */
function expandBack(t: Tensor, shape: readonly number[], axes: readonly number[]): Tensor {
  const kept = shape.map((d, i) => (axes.includes(i) ? 1 : d));
  const reshaped = bind("reshape", [t], { shape: kept });
  return kept.every((d, i) => d === shape[i]) ? reshaped : bind("broadcastTo", [reshaped], { shape: [...shape] });
}

function reduction<K extends "reduceSum" | "reduceMax" | "reduceMin" | "reduceProd">(
  kind: ReduceKind,
  vjp: (ct: Tensor, x: Tensor, out: Tensor, axes: readonly number[]) => Tensor,
  jvp: (t: Tensor, x: Tensor, out: Tensor, axes: readonly number[]) => Tensor,
): PrimitiveDef<K> {
  const needsElements = kind === "max" || kind === "min";
  return {
    abstractEval: ([x], { axes }) => reducedAval(kind, x, axes, needsElements),
    impl: ([x], [aval], { axes }, out) => reduce(x, aval.shape, axes, kind, out.dtype),
    vjp: (ct, [x], out, { axes }) => [vjp(ct, x, out, axes)],
    jvp: ([t], [x], out, { axes }) => (t === null ? null : jvp(t, x, out, axes)),
  };
}

/** Returns 1 where x attains the extremum, divided by the number of ties, so tied elements share the gradient. */
function extremumWeights(x: Tensor, out: Tensor, axes: readonly number[]): Tensor {
  const hit = cast(equal(x, expandBack(out, x.shape, axes)), x.dtype);
  return div(hit, expandBack(sum(hit, { axis: axes }), x.shape, axes));
}

/** d prod / d x_i = prod_{j != i} x_j, computed without dividing by a zero x_i. */
function prodGradient(x: Tensor, out: Tensor, axes: readonly number[]): Tensor {
  const isZero = equal(x, 0);
  const zeros = expandBack(sum(cast(isZero, "int32"), { axis: axes }), x.shape, axes);
  const nonZeroProduct = expandBack(bind("reduceProd", [where(isZero, 1, x)], { axes }), x.shape, axes);
  const quotient = div(expandBack(out, x.shape, axes), where(isZero, 1, x));
  return where(equal(zeros, 0), quotient, where(isZero, where(equal(zeros, 1), nonZeroProduct, 0), 0));
}

const reduceSum = reduction<"reduceSum">(
  "sum",
  (ct, x, _out, axes) => expandBack(ct, x.shape, axes), // d sum / d x_i = 1
  (t, _x, _out, axes) => bind("reduceSum", [t], { axes }),
);

const reduceMax = reduction<"reduceMax">(
  "max",
  (ct, x, out, axes) => mul(expandBack(ct, x.shape, axes), extremumWeights(x, out, axes)),
  (t, x, out, axes) => bind("reduceSum", [mul(t, extremumWeights(x, out, axes))], { axes }),
);

const reduceMin = reduction<"reduceMin">(
  "min",
  (ct, x, out, axes) => mul(expandBack(ct, x.shape, axes), extremumWeights(x, out, axes)),
  (t, x, out, axes) => bind("reduceSum", [mul(t, extremumWeights(x, out, axes))], { axes }),
);

const reduceProd = reduction<"reduceProd">(
  "prod",
  (ct, x, out, axes) => mul(expandBack(ct, x.shape, axes), prodGradient(x, out, axes)),
  (t, x, out, axes) => bind("reduceSum", [mul(t, prodGradient(x, out, axes))], { axes }),
);

function argReduction<K extends "argmax" | "argmin">(kind: "max" | "min"): PrimitiveDef<K> {
  return {
    abstractEval: ([x], { axis }) => ({ shape: reducedAval(`arg${kind}`, x, [axis], true).shape, dtype: "int32" }),
    impl: ([x], [aval], { axis }) => argReduce(x, aval.shape, axis, kind),
    vjp: () => [null],
    jvp: () => null,
  };
}

export const reductionDefs = {
  reduceSum,
  reduceMax,
  reduceMin,
  reduceProd,
  argmax: argReduction<"argmax">("max"),
  argmin: argReduction<"argmin">("min"),
};
