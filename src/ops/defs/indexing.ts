// Indexing primitives along one axis: gather and its transpose, scatter-add.

import { bind } from "../../core/bind.js";
import { zeros } from "../../core/creation.js";
import type { Aval } from "../../core/node.js";
import { formatShape } from "../../core/shape.js";
import type { PrimitiveDef } from "../../core/rules.js";
import { DTypeError, IndexError, InternalError } from "../../runtime/errors.js";
import { gather as referenceGather, scatterAdd as referenceScatterAdd } from "../../runtime/reference/layout.js";

function gatheredShape(x: Aval, indices: Aval, axis: number): number[] {
  if (indices.dtype !== "int32") throw new DTypeError(`gather: indices must be int32, got ${indices.dtype}`);
  if (axis < 0 || axis >= x.shape.length) throw new InternalError(`gather: axis ${axis} out of range for ${formatShape(x.shape)}`);
  return [...x.shape.slice(0, axis), ...indices.shape, ...x.shape.slice(axis + 1)];
}

const gather: PrimitiveDef<"gather"> = {
  abstractEval: ([x, indices], { axis }) => ({ shape: gatheredShape(x, indices, axis), dtype: x.dtype }),
  impl: ([x, indices], [aval], { axis }, out) => referenceGather(x, aval.shape, indices, axis, out.dtype),
  // The transpose of reading rows is adding the cotangent rows back where they were read (duplicates add up).
  vjp: (ct, [x, indices], _out, { axis }) => [bind("scatterAdd", [zeros(x.shape, { dtype: x.dtype }), indices, ct], { axis }), null],
  jvp: ([t], [, indices], _out, { axis }) => (t === null ? null : bind("gather", [t, indices], { axis })),
};

const scatterAdd: PrimitiveDef<"scatterAdd"> = {
  abstractEval: ([x, indices, updates], { axis }) => {
    const expected = gatheredShape(x, indices, axis);
    if (updates.dtype !== x.dtype || updates.shape.length !== expected.length || updates.shape.some((d, i) => d !== expected[i])) {
      throw new InternalError(`scatterAdd: updates ${formatShape(updates.shape)} ${updates.dtype} do not match ${formatShape(expected)} ${x.dtype}`);
    }
    return x;
  },
  impl: ([x, indices, updates], [aval], { axis }, out) => referenceScatterAdd(x, aval.shape, indices, updates, axis, out.dtype),
  // out = x + S(updates) with S linear: the cotangent of x is ct, that of updates is S^T ct = gather(ct).
  vjp: (ct, [, indices], _out, { axis }) => [ct, null, bind("gather", [ct, indices], { axis })],
  jvp: ([tx, , tu], [x, indices, updates], _out, { axis }) => {
    if (tx === null && tu === null) return null;
    const base = tx ?? zeros(x.shape, { dtype: x.dtype });
    const added = tu ?? zeros(updates.shape, { dtype: updates.dtype });
    return bind("scatterAdd", [base, indices, added], { axis });
  },
};

const checkIndices: PrimitiveDef<"checkIndices"> = {
  abstractEval: ([indices], { op }) => {
    if (indices.dtype !== "int32") throw new DTypeError(`${op}: indices must be int32, got ${indices.dtype}`);
    return indices;
  },
  impl: ([indices], _avals, { bound, op }) => {
    for (let i = 0; i < indices.length; i++) {
      if (indices[i] < 0 || indices[i] >= bound) {
        throw new IndexError(`${op}: index ${indices[i]} at position ${i} is out of range; valid indices are 0..${bound - 1}`);
      }
    }
    return indices;
  },
  vjp: () => [null],
  jvp: () => null,
};

export const indexingDefs = { gather, scatterAdd, checkIndices };
