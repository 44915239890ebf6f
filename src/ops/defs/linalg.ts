// The matmul primitive: [..., M, K] x [..., K, N] -> [..., M, N] with equal batch axes.

import { bind } from "../../core/bind.js";
import type { Aval } from "../../core/node.js";
import { formatShape, sizeOf } from "../../core/shape.js";
import type { PrimitiveDef } from "../../core/rules.js";
import type { Tensor } from "../../core/tensor.js";
import { InternalError } from "../../runtime/errors.js";
import { matmul as referenceMatmul } from "../../runtime/reference/matmul.js";
import { addTangents } from "./common.js";

function matmulAval(a: Aval, b: Aval): Aval {
  const rank = a.shape.length;
  const fits = rank >= 2 && b.shape.length === rank && a.dtype === b.dtype &&
    a.shape.slice(0, -2).every((d, i) => d === b.shape[i]) && a.shape[rank - 1] === b.shape[rank - 2];
  if (!fits) throw new InternalError(`matmul: operands ${formatShape(a.shape)} ${a.dtype} and ${formatShape(b.shape)} ${b.dtype} are not aligned; the public matmul aligns them`);
  return { shape: [...a.shape.slice(0, -1), b.shape[rank - 1]], dtype: a.dtype };
}

/** Swaps the two matrix axes. */
function transposeMatrices(x: Tensor): Tensor {
  const perm = x.shape.map((_, i) => i);
  const r = x.ndim;
  [perm[r - 2], perm[r - 1]] = [perm[r - 1], perm[r - 2]];
  return bind("transpose", [x], { perm });
}

const product = (a: Tensor, b: Tensor): Tensor => bind("matmul", [a, b], {});

export const linalgDefs = {
  matmul: {
    abstractEval: ([a, b]) => matmulAval(a, b),
    impl: ([a, b], [aa, ba], _params, out) => {
      const r = aa.shape.length;
      return referenceMatmul(a, b, sizeOf(aa.shape.slice(0, -2)), aa.shape[r - 2], aa.shape[r - 1], ba.shape[r - 1], out.dtype);
    },
    // d(AB) = dA B + A dB, so the cotangents are G B^T and A^T G
    vjp: (ct, [a, b]) => [product(ct, transposeMatrices(b)), product(transposeMatrices(a), ct)],
    jvp: ([ta, tb], [a, b]) => addTangents(ta && product(ta, b), tb && product(a, tb)),
  } satisfies PrimitiveDef<"matmul">,
};
