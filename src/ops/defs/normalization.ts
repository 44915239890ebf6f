// layerNorm and its backward primitive layerNormGrad. The VJP of layerNorm is layerNormGrad, so a
// backend runs the backward pass as one row kernel. The rules of layerNormGrad use ordinary ops, so
// derivatives of any order compose.

import { zerosLike } from "../../core/creation.js";
import type { Aval } from "../../core/node.js";
import type { PrimitiveDef } from "../../core/rules.js";
import { formatShape, shapesEqual, sizeOf } from "../../core/shape.js";
import type { Tensor } from "../../core/tensor.js";
import { InternalError } from "../../runtime/errors.js";
import { layerNormGradRows, layerNormRows } from "../../runtime/reference/layernorm.js";
import { add, mul, neg, rsqrt, square, sub } from "../elementwise.js";
import { concat, slice } from "../layout.js";
import { broadcastTo, reshapeTo } from "../lift.js";
import { layerNormGrad } from "../normalization.js";
import { mean, sum } from "../reduction.js";
import { addTangents } from "./common.js";

/** Checks that x is a float tensor with at least one axis and that `vectors` are [C] of its dtype. */
function checkOperands(prim: string, x: Aval, vectors: readonly Aval[]): void {
  if (x.shape.length === 0 || (x.dtype !== "float32" && x.dtype !== "float64")) {
    throw new InternalError(`${prim}: x must be a float tensor with at least one axis, got ${formatShape(x.shape)} ${x.dtype}; the public op checks this`);
  }
  const cols = x.shape[x.shape.length - 1];
  for (const v of vectors) {
    if (!shapesEqual(v.shape, [cols]) || v.dtype !== x.dtype) {
      throw new InternalError(`${prim}: expected [${cols}] ${x.dtype} for weight and bias, got ${formatShape(v.shape)} ${v.dtype}`);
    }
  }
}

/** Rows and columns of x viewed as [rows, C]. */
function rowsAndCols(shape: readonly number[]): [number, number] {
  const cols = shape[shape.length - 1];
  return [cols === 0 ? 0 : sizeOf(shape) / cols, cols];
}

const asRows = (t: Tensor): Tensor => reshapeTo(t, rowsAndCols(t.shape));
const rowMean = (t: Tensor): Tensor => mean(t, { axis: -1, keepdims: true });
const columnSum = (t: Tensor): Tensor => sum(t, { axis: 0, keepdims: true });

/** The normalized rows xhat = (x - mean) * rstd of x as [rows, C], and rstd as [rows, 1]. */
interface Normalized {
  readonly xhat: Tensor;
  readonly rstd: Tensor;
}

function normalize(x: Tensor, eps: number): Normalized {
  const centered = sub(x, rowMean(x));
  const rstd = rsqrt(add(rowMean(square(centered)), eps));
  return { xhat: mul(centered, rstd), rstd };
}

/** rstd * (u - mean(u) - xhat * mean(u * xhat)): the Jacobian of x -> xhat, which is symmetric, applied to u. */
function project(u: Tensor, { xhat, rstd }: Normalized): Tensor {
  return mul(rstd, sub(sub(u, rowMean(u)), mul(xhat, rowMean(mul(u, xhat)))));
}

/** Rows [start, stop) of a [rows, C] tensor. */
function rowRange(t: Tensor, start: number, stop: number): Tensor {
  return slice(t, [[start, stop], null]);
}

/** Splits the packed output of layerNormGrad into cotangents for x (of `shape`), weight and bias. */
function unpack(packed: Tensor, shape: readonly number[]): [Tensor, Tensor, Tensor] {
  const [rows, cols] = rowsAndCols(shape);
  return [
    reshapeTo(rowRange(packed, 0, rows), shape),
    reshapeTo(rowRange(packed, rows, rows + 1), [cols]),
    reshapeTo(rowRange(packed, rows + 1, rows + 2), [cols]),
  ];
}

// y = xhat w + b, so dy = w J(tx) + xhat tw + tb.
function layerNormJvp([tx, tw, tb]: readonly (Tensor | null)[], [x, w]: readonly Tensor[], eps: number): Tensor | null {
  const n = normalize(asRows(x), eps);
  const fromX = tx === null ? null : mul(w, project(asRows(tx), n));
  const fromWeight = tw === null ? null : mul(n.xhat, tw);
  const fromBias = tb === null ? null : broadcastTo(tb, n.xhat.shape);
  const tangent = addTangents(fromX, fromWeight, fromBias);
  return tangent === null ? null : reshapeTo(tangent, x.shape);
}

/**
 * Cotangents of (dy, x, weight) for layerNormGrad, given cotangents A (of dx), P (of dweight) and
 * Q (of dbias). With g = dy w and <.> the mean over a row, dx = rstd * J'(g) where J' is symmetric, so
 * ddy = w J(A) + P xhat + Q and dweight = sum(dy J(A)). For x, u = P dy - rstd (A <g xhat> + g <A xhat>)
 * is the derivative through xhat at fixed rstd, and the rest flows through rstd, whose gradient is
 * -rstd^2 xhat / C: dx = J(u) - rstd^2 xhat (<A g> - <A><g> - <A xhat><g xhat>).
 */
function layerNormGradVjp(cotangent: Tensor, [dy, x, w]: readonly Tensor[], eps: number): Tensor[] {
  const [rows] = rowsAndCols(x.shape);
  const a = rowRange(cotangent, 0, rows);
  const p = rowRange(cotangent, rows, rows + 1);
  const q = rowRange(cotangent, rows + 1, rows + 2);
  const dyRows = asRows(dy);
  const n = normalize(asRows(x), eps);
  const { xhat, rstd } = n;

  const projectedA = project(a, n);
  const ddy = add(add(mul(w, projectedA), mul(p, xhat)), q);
  const dweight = reshapeTo(columnSum(mul(dyRows, projectedA)), w.shape);

  const g = mul(dyRows, w);
  const gx = rowMean(mul(g, xhat));
  const ax = rowMean(mul(a, xhat));
  const u = sub(mul(p, dyRows), mul(rstd, add(mul(a, gx), mul(g, ax))));
  const throughRstd = sub(sub(rowMean(mul(a, g)), mul(rowMean(a), rowMean(g))), mul(ax, gx));
  const dx = sub(project(u, n), mul(mul(square(rstd), xhat), throughRstd));
  return [reshapeTo(ddy, x.shape), reshapeTo(dx, x.shape), dweight];
}

/** Returns the tangent of the packed output of layerNormGrad. The derivative of rstd along tx is -rstd^2 <xhat tx>. */
function layerNormGradJvp(tangents: readonly (Tensor | null)[], [dy, x, w]: readonly Tensor[], eps: number): Tensor | null {
  if (tangents.every((t) => t === null)) return null;
  const [tdy, tx, tw] = tangents.map((t, i) => asRows(t ?? zerosLike([dy, x, w][i])));
  const dyRows = asRows(dy);
  const n = normalize(asRows(x), eps);
  const { xhat, rstd } = n;

  const g = mul(dyRows, w);
  const tg = add(mul(tdy, w), mul(dyRows, tw));
  const txhat = project(tx, n);
  const trstd = neg(mul(square(rstd), rowMean(mul(xhat, tx))));
  const gx = rowMean(mul(g, xhat));
  const fromRstd = mul(trstd, sub(sub(g, rowMean(g)), mul(xhat, gx)));
  const fromG = sub(sub(tg, rowMean(tg)), mul(txhat, gx));
  const fromMeans = mul(xhat, add(rowMean(mul(tg, xhat)), rowMean(mul(g, txhat))));
  const tdx = add(fromRstd, mul(rstd, sub(fromG, fromMeans)));
  const tdweight = columnSum(add(mul(tdy, xhat), mul(dyRows, txhat)));
  return concat([tdx, tdweight, columnSum(tdy)], 0);
}

export const normalizationDefs = {
  layerNorm: {
    abstractEval: ([x, w, b]: readonly Aval[]) => (checkOperands("layerNorm", x, [w, b]), x),
    impl: ([x, w, b], [aval], { eps }, out) => layerNormRows(x, w, b, ...rowsAndCols(aval.shape), eps, out.dtype),
    vjp: (g, [x, w], _y, { eps }) => unpack(layerNormGrad(g, x, w, eps), x.shape), // see layerNormGradRows for the formulas
    jvp: (tangents, inputs, _y, { eps }) => layerNormJvp(tangents, inputs, eps),
  } satisfies PrimitiveDef<"layerNorm">,
  layerNormGrad: {
    abstractEval: ([dy, x, w]: readonly Aval[]) => {
      checkOperands("layerNormGrad", x, [w]);
      if (!shapesEqual(dy.shape, x.shape) || dy.dtype !== x.dtype) {
        throw new InternalError(`layerNormGrad: dy ${formatShape(dy.shape)} ${dy.dtype} does not match x ${formatShape(x.shape)} ${x.dtype}`);
      }
      const [rows, cols] = rowsAndCols(x.shape);
      return { shape: [rows + 2, cols], dtype: x.dtype };
    },
    impl: ([dy, x, w], [, aval], { eps }, out) => layerNormGradRows(dy, x, w, ...rowsAndCols(aval.shape), eps, out.dtype),
    vjp: (cotangent, inputs, _out, { eps }) => layerNormGradVjp(cotangent, inputs, eps),
    jvp: (tangents, inputs, _out, { eps }) => layerNormGradJvp(tangents, inputs, eps),
  } satisfies PrimitiveDef<"layerNormGrad">,
};
