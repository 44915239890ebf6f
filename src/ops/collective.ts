// Public collectives for the body of nb.shardMap, named like JAX's lax.psum, lax.all_gather and the rest.
// Each runs along named mesh axes of the shardMap mesh; shapes are the local (per-device) shapes.

import { bind } from "../core/bind.js";
import { Tensor } from "../core/tensor.js";
import { IndexError, ShapeError } from "../runtime/errors.js";
import { boundAxisSize } from "../sharding/axis-env.js";
import { castTo, lift, reshapeTo, resultType, type Operand } from "./lift.js";

/** One mesh axis name or several; a collective over several axes runs over every device that differs only along them. */
export type AxisNames = string | readonly string[];

function axisList(axes: AxisNames): string[] {
  return typeof axes === "string" ? [axes] : [...axes];
}

function toTensor(x: Operand): Tensor {
  return x instanceof Tensor ? x : lift(x, resultType(x));
}

/** Maps a possibly negative `dim` into [0, rank), raising an IndexError that names `op` when it is out of range. */
function normalizeDim(op: string, dim: number, rank: number): number {
  if (!Number.isInteger(dim) || dim < -rank || dim >= rank) {
    throw new IndexError(`${op}: dim ${dim} is out of range for a value of rank ${rank}; use a dimension in [${-rank}, ${rank})`);
  }
  return dim < 0 ? dim + rank : dim;
}

/** Sums `x` over the devices along `axes`; bool values are summed as int32, as in JAX. */
export function psum(x: Operand, axes: AxisNames): Tensor {
  const t = toTensor(x);
  return bind("psum", [t.dtype === "bool" ? castTo(t, "int32") : t], { axes: axisList(axes) });
}

/** Averages `x` over the devices along `axes`; integer values are averaged in float32. */
export function pmean(x: Operand, axes: AxisNames): Tensor {
  const t = toTensor(x);
  return bind("pmean", [t.dtype === "float64" ? t : castTo(t, "float32")], { axes: axisList(axes) });
}

/** Takes the elementwise max of `x` over the devices along `axes`. */
export function pmax(x: Operand, axes: AxisNames): Tensor {
  return bind("pmax", [toTensor(x)], { axes: axisList(axes) });
}

export interface AllGatherOptions {
  /** Dimension of the result that indexes the devices (untiled) or that the shards are concatenated along (tiled); 0 by default. */
  readonly dim?: number;
  /** Concatenate the shards along `dim` instead of stacking them along a new dimension `dim`; false by default, as in JAX. */
  readonly tiled?: boolean;
}

/** Gathers `x` from every device along mesh axis `axis`, in rank order, like JAX's lax.all_gather. */
export function allGather(x: Tensor, axis: string, options: AllGatherOptions = {}): Tensor {
  const { dim = 0, tiled = false } = options;
  if (tiled) return bind("allGatherAxis", [x], { axis, dim: normalizeDim("allGather", dim, x.ndim) });
  const at = normalizeDim("allGather", dim, x.ndim + 1);
  const stacked = reshapeTo(x, [...x.shape.slice(0, at), 1, ...x.shape.slice(at)]);
  return bind("allGatherAxis", [stacked], { axis, dim: at });
}

export interface PsumScatterOptions {
  /** Dimension to scatter; 0 by default. */
  readonly dim?: number;
  /**
   * Keep chunk `rank` of `dim`, whose size is divided by the axis size. Untiled, `dim` must have the
   * axis size and is removed. False by default, as in JAX.
   */
  readonly tiled?: boolean;
}

/** Sums `x` over the devices along `axis` and leaves each device its chunk of `dim`, like JAX's lax.psum_scatter. */
export function psumScatter(x: Tensor, axis: string, options: PsumScatterOptions = {}): Tensor {
  const { dim = 0, tiled = false } = options;
  const at = normalizeDim("psumScatter", dim, x.ndim);
  const input = x.dtype === "bool" ? castTo(x, "int32") : x;
  if (tiled) return bind("psumScatter", [input], { axis, dim: at });
  const size = boundAxisSize("psumScatter", axis);
  if (x.shape[at] !== size) {
    throw new ShapeError(`psumScatter: an untiled scatter needs dimension ${at} to have the size of mesh axis "${axis}", ${size}, but it is ${x.shape[at]}; pass { tiled: true } to scatter chunks of it`);
  }
  return reshapeTo(bind("psumScatter", [input], { axis, dim: at }), x.shape.filter((_, d) => d !== at));
}

export interface AllToAllOptions {
  /** Dimension split into one chunk per device; chunk r goes to rank r. */
  readonly splitDim: number;
  /** Dimension along which the received chunks are concatenated in rank order. */
  readonly concatDim: number;
}

/**
 * Sends chunk r of `splitDim` to rank r along `axis` and concatenates what each device receives along
 * `concatDim`, like JAX's lax.all_to_all with tiled=True.
 */
export function allToAll(x: Tensor, axis: string, options: AllToAllOptions): Tensor {
  const splitDim = normalizeDim("allToAll", options.splitDim, x.ndim);
  const concatDim = normalizeDim("allToAll", options.concatDim, x.ndim);
  return bind("allToAllAxis", [x], { axis, splitDim, concatDim });
}

/**
 * Sends `x` from rank `source` to rank `target` along `axis` for each [source, target] pair, like JAX's
 * lax.ppermute. A device that no pair targets gets zeros.
 */
export function ppermute(x: Tensor, axis: string, pairs: readonly (readonly [source: number, target: number])[]): Tensor {
  // A copy, so that changing the caller's array later cannot change the recorded params.
  return bind("ppermute", [x], { axis, pairs: structuredClone(pairs) });
}

/** This device's rank along mesh axis `axis`, as an int32 scalar. */
export function axisIndex(axis: string): Tensor {
  return bind("axisIndex", [], { axis });
}
