// Layout primitives: reshape, transpose, broadcastTo, strided slice, pad, concat and flip.

import { bind } from "../../core/bind.js";
import type { Aval } from "../../core/node.js";
import { formatShape, sizeOf, stridesOf } from "../../core/shape.js";
import type { PrimitiveDef } from "../../core/rules.js";
import { InternalError } from "../../runtime/errors.js";
import { concat as referenceConcat, pad as referencePad, stridedCopy } from "../../runtime/reference/layout.js";
import { zeros } from "../../core/creation.js";

function check(condition: boolean, message: () => string): void {
  if (!condition) throw new InternalError(message());
}

function sliceCount(start: number, stop: number, step: number): number {
  return Math.max(0, Math.ceil((stop - start) / step));
}

const reshape: PrimitiveDef<"reshape"> = {
  abstractEval: ([x], { shape }) => {
    check(sizeOf(shape) === sizeOf(x.shape), () => `reshape: ${formatShape(x.shape)} to ${formatShape(shape)} changes the element count`);
    return { shape, dtype: x.dtype };
  },
  impl: ([x]) => x, // row-major data is unchanged; buffers are never mutated, so sharing is safe
  vjp: (ct, [x]) => [bind("reshape", [ct], { shape: x.shape })],
  jvp: ([t], _inputs, _out, { shape }) => (t === null ? null : bind("reshape", [t], { shape })),
};

function inversePermutation(perm: readonly number[]): number[] {
  const inverse = new Array<number>(perm.length);
  perm.forEach((p, i) => (inverse[p] = i));
  return inverse;
}

const transpose: PrimitiveDef<"transpose"> = {
  abstractEval: ([x], { perm }) => {
    check(perm.length === x.shape.length && new Set(perm).size === perm.length, () => `transpose: perm [${perm.join(", ")}] does not fit ${formatShape(x.shape)}`);
    return { shape: perm.map((p) => x.shape[p]), dtype: x.dtype };
  },
  impl: ([x], [aval], { perm }, out) => {
    const strides = stridesOf(aval.shape);
    return stridedCopy(x, out.shape, perm.map((p) => strides[p]), 0, out.dtype);
  },
  vjp: (ct, _inputs, _out, { perm }) => [bind("transpose", [ct], { perm: inversePermutation(perm) })],
  jvp: ([t], _inputs, _out, { perm }) => (t === null ? null : bind("transpose", [t], { perm })),
};

/** Axes that broadcastTo expands from size 1. */
function expandedAxes(from: readonly number[], to: readonly number[]): number[] {
  return to.flatMap((d, i) => (from[i] === 1 && d !== 1 ? [i] : []));
}

const broadcastTo: PrimitiveDef<"broadcastTo"> = {
  abstractEval: ([x], { shape }) => {
    check(shape.length === x.shape.length && x.shape.every((d, i) => d === 1 || d === shape[i]), () => `broadcastTo: ${formatShape(x.shape)} to ${formatShape(shape)} needs equal ranks and size-1 sources`);
    return { shape, dtype: x.dtype };
  },
  impl: ([x], [aval], _params, out) => {
    const strides = stridesOf(aval.shape).map((s, i) => (aval.shape[i] === 1 ? 0 : s));
    return stridedCopy(x, out.shape, strides, 0, out.dtype);
  },
  // The transpose of copying along an axis is summing over it.
  vjp: (ct, [x]) => {
    const axes = expandedAxes(x.shape, ct.shape);
    const summed = axes.length === 0 ? ct : bind("reduceSum", [ct], { axes });
    return [bind("reshape", [summed], { shape: x.shape })];
  },
  jvp: ([t], _inputs, _out, { shape }) => (t === null ? null : bind("broadcastTo", [t], { shape })),
};

const slice: PrimitiveDef<"slice"> = {
  abstractEval: ([x], { start, stop, step }) => {
    const rank = x.shape.length;
    check(start.length === rank && stop.length === rank && step.length === rank, () => `slice: parameters do not match rank ${rank}`);
    check(x.shape.every((n, i) => step[i] > 0 && start[i] >= 0 && start[i] <= n && stop[i] <= n), () => `slice: [${start}]:[${stop}]:[${step}] out of bounds for ${formatShape(x.shape)}`);
    return { shape: x.shape.map((_, i) => sliceCount(start[i], stop[i], step[i])), dtype: x.dtype };
  },
  impl: ([x], [aval], { start, step }, out) => {
    const strides = stridesOf(aval.shape);
    const offset = start.reduce((acc, s, i) => acc + s * strides[i], 0);
    return stridedCopy(x, out.shape, strides.map((s, i) => s * step[i]), offset, out.dtype);
  },
  // The transpose of taking every step-th element from start is padding with step-1 zeros between them.
  vjp: (ct, [x], out, { start, step }) => [
    bind("pad", [ct], {
      low: out.shape.map((c, i) => (c === 0 ? 0 : start[i])),
      high: out.shape.map((c, i) => (c === 0 ? x.shape[i] : x.shape[i] - (start[i] + (c - 1) * step[i] + 1))),
      interior: out.shape.map((c, i) => (c === 0 ? 0 : step[i] - 1)),
      value: 0,
    }),
  ],
  jvp: ([t], _inputs, _out, params) => (t === null ? null : bind("slice", [t], params)),
};

const pad: PrimitiveDef<"pad"> = {
  abstractEval: ([x], { low, high, interior }) => {
    const rank = x.shape.length;
    check(low.length === rank && high.length === rank && interior.length === rank && [...low, ...high, ...interior].every((v) => Number.isInteger(v) && v >= 0), () => `pad: widths do not fit ${formatShape(x.shape)}`);
    return { shape: x.shape.map((n, i) => low[i] + high[i] + n + Math.max(0, n - 1) * interior[i]), dtype: x.dtype };
  },
  impl: ([x], [aval], { low, high, interior, value }, out) => referencePad(x, aval.shape, low, high, interior, value, out.dtype),
  // The transpose of padding is taking the original positions back out.
  vjp: (ct, [x], _out, { low, interior }) => [
    bind("slice", [ct], {
      start: low,
      stop: x.shape.map((n, i) => (n === 0 ? low[i] : low[i] + (n - 1) * (interior[i] + 1) + 1)),
      step: interior.map((v) => v + 1),
    }),
  ],
  jvp: ([t], _inputs, _out, params) => (t === null ? null : bind("pad", [t], { ...params, value: 0 })),
};

const concat: PrimitiveDef<"concat"> = {
  abstractEval: (inputs, { axis }) => {
    const first = inputs[0];
    check(inputs.every((a) => a.dtype === first.dtype && a.shape.length === first.shape.length && a.shape.every((d, i) => i === axis || d === first.shape[i])), () => `concat: operands ${inputs.map((a) => formatShape(a.shape)).join(", ")} differ outside axis ${axis}`);
    const total = inputs.reduce((n, a) => n + a.shape[axis], 0);
    return { shape: first.shape.map((d, i) => (i === axis ? total : d)), dtype: first.dtype };
  },
  impl: (parts, avals, { axis }, out) => referenceConcat(parts, avals.map((a) => a.shape), axis, out.dtype),
  vjp: (ct, inputs, _out, { axis }) => {
    let offset = 0;
    return inputs.map((x) => {
      const start = ct.shape.map((_, i) => (i === axis ? offset : 0));
      const stop = ct.shape.map((d, i) => (i === axis ? offset + x.shape[axis] : d));
      offset += x.shape[axis];
      return bind("slice", [ct], { start, stop, step: ct.shape.map(() => 1) });
    });
  },
  jvp: (tangents, inputs, _out, { axis }) => {
    if (tangents.every((t) => t === null)) return null;
    const filled = tangents.map((t, i) => t ?? zeros(inputs[i].shape, { dtype: inputs[i].dtype }));
    return bind("concat", filled, { axis });
  },
};

const flip: PrimitiveDef<"flip"> = {
  abstractEval: ([x]: readonly Aval[]) => x,
  impl: ([x], [aval], { axes }, out) => {
    const strides = stridesOf(aval.shape);
    const offset = axes.reduce((acc, a) => acc + Math.max(0, aval.shape[a] - 1) * strides[a], 0);
    return stridedCopy(x, out.shape, strides.map((s, i) => (axes.includes(i) ? -s : s)), offset, out.dtype);
  },
  vjp: (ct, _inputs, _out, { axes }) => [bind("flip", [ct], { axes })],
  jvp: ([t], _inputs, _out, { axes }) => (t === null ? null : bind("flip", [t], { axes })),
};

export const layoutDefs = { reshape, transpose, broadcastTo, slice, pad, concat, flip };
