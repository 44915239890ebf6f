// Collective primitives along named mesh axes: psum, pmean, pmax, allGather, psumScatter, allToAll,
// ppermute, axisIndex and the implicit pvary. They exist only while nb.shardMap traces its body, which
// binds the mesh axes. shardMap turns each into a collective step of the SPMD program, so no reference
// implementation runs. Each VJP is the transposed collective, as in JAX's shard_map. The transposes of
// psum, pmean and pmax assume the cotangent of their result is one value for the whole group. That is
// true because shardMap wraps a shared value in pvary wherever it meets per-device values.

import { bind } from "../../core/bind.js";
import { isFloating } from "../../core/dtype.js";
import type { Aval } from "../../core/node.js";
import type { ParamsOf } from "../../core/primitive-names.js";
import type { PrimitiveDef } from "../../core/rules.js";
import { formatShape } from "../../core/shape.js";
import type { Tensor } from "../../core/tensor.js";
import { DTypeError, IndexError, ShapeError, ShardingError, ValueError } from "../../runtime/errors.js";
import { boundAxisSize, groupSize } from "../../sharding/axis-env.js";
import { cast, div, equal, mul } from "../elementwise.js";

type CollectivePrim = "psum" | "pmean" | "pmax" | "allGatherAxis" | "psumScatter" | "allToAllAxis" | "ppermute" | "axisIndex" | "pvary";

/** The public op of each primitive, for messages. */
const opNames: Record<CollectivePrim, string> = {
  psum: "psum",
  pmean: "pmean",
  pmax: "pmax",
  allGatherAxis: "allGather",
  psumScatter: "psumScatter",
  allToAllAxis: "allToAll",
  ppermute: "ppermute",
  axisIndex: "axisIndex",
  pvary: "pvary",
};

function firstAxis(params: { axes?: readonly string[]; axis?: string }): string {
  return params.axis ?? params.axes?.[0] ?? "";
}

/**
 * Returns the reference implementation of a collective, which raises a ShardingError. A collective
 * node only runs inside a shardMap program, so evaluating one on a single device means it escaped its body.
 */
function unboundImpl(prim: CollectivePrim) {
  return (_inputs: unknown, _avals: unknown, params: { axes?: readonly string[]; axis?: string }): never => {
    const op = opNames[prim];
    throw new ShardingError(`${op}: mesh axis ${JSON.stringify(firstAxis(params))} is not bound; call ${op} inside the body of nb.shardMap, whose mesh names the axis`);
  };
}

function checkAxes(op: string, axes: readonly string[]): void {
  if (!Array.isArray(axes) || axes.length === 0) throw new ValueError(`${op}: give at least one mesh axis name, got ${JSON.stringify(axes)}`);
  if (new Set(axes).size !== axes.length) throw new ValueError(`${op}: mesh axes [${axes.join(", ")}] repeat an axis; name each axis once`);
  for (const axis of axes) boundAxisSize(op, axis);
}

function checkDim(op: string, name: string, dim: number, x: Aval): void {
  if (!Number.isInteger(dim) || dim < 0 || dim >= x.shape.length) {
    throw new IndexError(`${op}: ${name} ${dim} is out of range for a value of shape ${formatShape(x.shape)}`);
  }
}

function checkDivisible(op: string, dim: number, x: Aval, size: number, axis: string): void {
  if (x.shape[dim] % size !== 0) {
    throw new ShapeError(`${op}: dimension ${dim} of the local shape ${formatShape(x.shape)} has size ${x.shape[dim]}, which the ${size} devices of mesh axis "${axis}" do not divide; pad it to a multiple of ${size}`);
  }
}

function checkNumeric(op: string, x: Aval): void {
  if (x.dtype === "bool") throw new DTypeError(`${op}: bool values cannot be summed; cast them to int32 or a float dtype first`);
}

function withDim(shape: readonly number[], dim: number, size: number): number[] {
  return shape.map((n, d) => (d === dim ? size : n));
}

/** Returns 1 where x attains the max over the group, divided by the number of ties, so tied devices share the gradient. */
function maxWeights(x: Tensor, out: Tensor, axes: readonly string[]): Tensor {
  const hit = cast(equal(x, out), x.dtype);
  return div(hit, bind("psum", [hit], { axes }));
}

function reduction<K extends "psum" | "pmean" | "pmax">(
  prim: K,
  checkDType: (op: string, x: Aval) => void,
  vjp: (ct: Tensor, x: Tensor, out: Tensor, axes: readonly string[]) => Tensor,
  jvp: (t: Tensor, x: Tensor, out: Tensor, axes: readonly string[]) => Tensor,
): PrimitiveDef<K> {
  return {
    abstractEval: ([x], { axes }) => {
      checkAxes(opNames[prim], axes);
      checkDType(opNames[prim], x);
      return x;
    },
    impl: unboundImpl(prim),
    vjp: (ct, [x], out, { axes }) => [vjp(ct, x, out, axes)],
    jvp: ([t], [x], out, { axes }) => (t === null ? null : jvp(t, x, out, axes)),
  };
}

function checkFloat(op: string, x: Aval): void {
  if (!isFloating(x.dtype)) throw new DTypeError(`${op}: the mean of ${x.dtype} values is not ${x.dtype}; cast them to a float dtype first`);
}

// d psum / d x_i = 1 on every device, so the cotangent passes back unchanged (pbroadcast).
const psum = reduction(
  "psum",
  checkNumeric,
  (ct) => ct,
  (t, _x, _out, axes) => bind("psum", [t], { axes }),
);

// d pmean / d x_i = 1 / n.
const pmean = reduction(
  "pmean",
  checkFloat,
  (ct, _x, _out, axes) => div(ct, groupSize("pmean", axes)),
  (t, _x, _out, axes) => bind("pmean", [t], { axes }),
);

// d pmax / d x_i = [x_i = max] / (number of devices attaining it).
const pmax = reduction(
  "pmax",
  () => undefined,
  (ct, x, out, axes) => mul(ct, maxWeights(x, out, axes)),
  (t, x, out, axes) => bind("psum", [mul(t, maxWeights(x, out, axes))], { axes }),
);

/** allGather's transpose is psumScatter: each device's chunk gets the sum of the devices' cotangents for it. */
const allGatherAxis: PrimitiveDef<"allGatherAxis"> = {
  abstractEval: ([x], { axis, dim }) => {
    const size = boundAxisSize("allGather", axis);
    checkDim("allGather", "dim", dim, x);
    return { shape: withDim(x.shape, dim, x.shape[dim] * size), dtype: x.dtype };
  },
  impl: unboundImpl("allGatherAxis"),
  vjp: (ct, _inputs, _out, params) => [bind("psumScatter", [ct], params)],
  jvp: ([t], _inputs, _out, params) => (t === null ? null : bind("allGatherAxis", [t], params)),
};

/** psumScatter's transpose is allGather: each device's chunk cotangent goes back to every device. */
const psumScatter: PrimitiveDef<"psumScatter"> = {
  abstractEval: ([x], { axis, dim }) => {
    const size = boundAxisSize("psumScatter", axis);
    checkNumeric("psumScatter", x);
    checkDim("psumScatter", "dim", dim, x);
    checkDivisible("psumScatter", dim, x, size, axis);
    return { shape: withDim(x.shape, dim, x.shape[dim] / size), dtype: x.dtype };
  },
  impl: unboundImpl("psumScatter"),
  vjp: (ct, _inputs, _out, params) => [bind("allGatherAxis", [ct], params)],
  jvp: ([t], _inputs, _out, params) => (t === null ? null : bind("psumScatter", [t], params)),
};

/** allToAll's transpose is allToAll with the split and concat dimensions swapped. */
const allToAllAxis: PrimitiveDef<"allToAllAxis"> = {
  abstractEval: ([x], { axis, splitDim, concatDim }) => {
    const size = boundAxisSize("allToAll", axis);
    checkDim("allToAll", "splitDim", splitDim, x);
    checkDim("allToAll", "concatDim", concatDim, x);
    checkDivisible("allToAll", splitDim, x, size, axis);
    const split = withDim(x.shape, splitDim, x.shape[splitDim] / size);
    return { shape: withDim(split, concatDim, split[concatDim] * size), dtype: x.dtype };
  },
  impl: unboundImpl("allToAllAxis"),
  vjp: (ct, _inputs, _out, { axis, splitDim, concatDim }) => [bind("allToAllAxis", [ct], { axis, splitDim: concatDim, concatDim: splitDim })],
  jvp: ([t], _inputs, _out, params) => (t === null ? null : bind("allToAllAxis", [t], params)),
};

function checkPairs(axis: string, pairs: ParamsOf<"ppermute">["pairs"]): void {
  const size = boundAxisSize("ppermute", axis);
  const describe = `pairs ${JSON.stringify(pairs)}`;
  if (!Array.isArray(pairs)) throw new ValueError(`ppermute: ${describe} must be an array of [source, target] ranks`);
  for (const pair of pairs) {
    if (!Array.isArray(pair) || pair.length !== 2 || pair.some((rank) => !Number.isInteger(rank) || rank < 0 || rank >= size)) {
      throw new ValueError(`ppermute: ${describe} must be [source, target] ranks in [0, ${size}) along mesh axis "${axis}", got ${JSON.stringify(pair)}`);
    }
  }
  for (const [index, role] of [[0, "source"], [1, "target"]] as const) {
    const ranks = pairs.map((pair) => pair[index]);
    if (new Set(ranks).size !== ranks.length) throw new ValueError(`ppermute: ${describe} repeat a ${role} rank; each device may appear once as a ${role}`);
  }
}

/** ppermute's transpose sends each cotangent back along the inverse permutation. */
const ppermute: PrimitiveDef<"ppermute"> = {
  abstractEval: ([x], { axis, pairs }) => {
    checkPairs(axis, pairs);
    return x;
  },
  impl: unboundImpl("ppermute"),
  vjp: (ct, _inputs, _out, { axis, pairs }) => [bind("ppermute", [ct], { axis, pairs: pairs.map(([source, target]) => [target, source] as const) })],
  jvp: ([t], _inputs, _out, params) => (t === null ? null : bind("ppermute", [t], params)),
};

/** pvary's transpose is psum: the shared value's cotangent is the sum of the cotangents of its per-device uses. */
const pvary: PrimitiveDef<"pvary"> = {
  abstractEval: ([x], { axes }) => {
    checkAxes("pvary", axes);
    return x;
  },
  impl: unboundImpl("pvary"),
  vjp: (ct, _inputs, _out, { axes }) => [bind("psum", [ct], { axes })],
  jvp: ([t]) => t,
};

const axisIndex: PrimitiveDef<"axisIndex"> = {
  abstractEval: (_inputs, { axis }) => {
    boundAxisSize("axisIndex", axis);
    return { shape: [], dtype: "int32" };
  },
  impl: unboundImpl("axisIndex"),
  vjp: () => [],
  jvp: () => null,
};

export const collectiveDefs: { readonly [K in CollectivePrim]: PrimitiveDef<K> } = {
  psum,
  pmean,
  pmax,
  allGatherAxis,
  psumScatter,
  allToAllAxis,
  ppermute,
  axisIndex,
  pvary,
};
