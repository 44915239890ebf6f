// Resharding: the collective and local steps that turn a value of one spec into the same value of
// another, and the bytes they move, which is the cost model the rules use to resolve conflicts.

import { InternalError } from "../runtime/errors.js";
import { ShardingSpec, type MeshLayout, type PartialOp } from "./spec.js";

/**
 * One step of a reshard, with the spec after it. `allReduce` settles pending partial results over
 * `axes`. `reduceScatter` settles the partial result on `axis` and keeps this device's chunk of `dim`
 * along it, in one exchange. `allGather` joins the shards of `dim` along `axis`, always the innermost
 * axis splitting it. `split` keeps this device's chunk of `dim` along `axis` without communication.
 * `allToAll` gathers `gatherDim` along `axis` and splits `splitDim` along it in one exchange.
 */
export type ReshardStep =
  | { readonly kind: "allReduce"; readonly axes: readonly string[]; readonly op: PartialOp; readonly spec: ShardingSpec }
  | { readonly kind: "reduceScatter"; readonly axis: string; readonly dim: number; readonly op: PartialOp; readonly spec: ShardingSpec }
  | { readonly kind: "allGather"; readonly axis: string; readonly dim: number; readonly spec: ShardingSpec }
  | { readonly kind: "split"; readonly axis: string; readonly dim: number; readonly spec: ShardingSpec }
  | { readonly kind: "allToAll"; readonly axis: string; readonly gatherDim: number; readonly splitDim: number; readonly spec: ShardingSpec };

function isPrefix(prefix: readonly string[], full: readonly string[]): boolean {
  return prefix.length <= full.length && prefix.every((axis, i) => full[i] === axis);
}

/** The spec of a value while a plan runs: its split and its partial entries, edited step by step. */
class PlanState {
  readonly steps: ReshardStep[] = [];
  readonly dims: string[][];
  readonly partial: Record<string, PartialOp>;

  constructor(from: ShardingSpec) {
    this.dims = from.dims.map((d) => [...d]);
    this.partial = { ...from.partial };
  }

  get spec(): ShardingSpec {
    return new ShardingSpec(this.dims, this.partial);
  }

  /** True when no dimension is split by `axis` and no partial result is pending on it. */
  isFree(axis: string): boolean {
    return this.partial[axis] === undefined && this.dims.every((d) => !d.includes(axis));
  }

  /** Appends `axis` to the split of `dim`, settling its partial result with a reduce-scatter when one is pending. */
  splitOrScatter(axis: string, dim: number): void {
    const op = this.partial[axis];
    delete this.partial[axis];
    this.dims[dim].push(axis);
    if (op === undefined) this.steps.push({ kind: "split", axis, dim, spec: this.spec });
    else this.steps.push({ kind: "reduceScatter", axis, dim, op, spec: this.spec });
  }
}

/** Returns the partial axes of `from` that `to` does not keep. Raises an InternalError if `to` adds a partial result. */
function axesToSettle(from: ShardingSpec, to: ShardingSpec): string[] {
  for (const axis of Object.keys(to.partial)) {
    if (from.partial[axis] !== to.partial[axis]) {
      throw new InternalError(`reshard ${from} to ${to}: a value cannot become partial on "${axis}" without a computation`);
    }
  }
  return Object.keys(from.partial).filter((axis) => to.partial[axis] !== from.partial[axis]);
}

/**
 * Emits the reduce-scatters that can run before any gather. It walks each target split outward, stages
 * local splits of free axes, and emits them when it reaches an axis in `scatter`.
 */
function scatterEarly(state: PlanState, to: ShardingSpec, scatter: ReadonlySet<string>): void {
  to.dims.forEach((target, d) => {
    if (!isPrefix(state.dims[d], target)) return;
    const staged: string[] = [];
    for (const axis of target.slice(state.dims[d].length)) {
      if (scatter.has(axis)) {
        for (const free of staged.splice(0)) state.splitOrScatter(free, d);
        state.splitOrScatter(axis, d);
      } else if (state.isFree(axis)) {
        staged.push(axis);
      } else {
        return;
      }
    }
  });
}

/** All-reduces the settled axes not in `scatter`, one step per op. */
function allReduceRest(state: PlanState, settle: readonly string[], scatter: ReadonlySet<string>): void {
  const byOp = new Map<PartialOp, string[]>();
  for (const axis of settle) {
    if (scatter.has(axis)) continue;
    const op = state.partial[axis];
    byOp.set(op, [...(byOp.get(op) ?? []), axis]);
  }
  for (const [op, axes] of byOp) {
    for (const axis of axes) delete state.partial[axis];
    state.steps.push({ kind: "allReduce", axes, op, spec: state.spec });
  }
}

/** Gathers, innermost first, every split that is not a prefix of the target split, as an all-to-all when the axis moves to another dimension. */
function gatherMismatches(state: PlanState, to: ShardingSpec): void {
  const { dims } = state;
  for (let d = 0; d < dims.length; d++) {
    while (!isPrefix(dims[d], to.dims[d])) {
      const axis = dims[d].pop() as string;
      const target = dims.findIndex((other, j) => j !== d && isPrefix(other, to.dims[j]) && to.dims[j].length === other.length + 1 && to.dims[j][other.length] === axis);
      if (target >= 0) {
        dims[target].push(axis);
        state.steps.push({ kind: "allToAll", axis, gatherDim: d, splitDim: target, spec: state.spec });
      } else {
        state.steps.push({ kind: "allGather", axis, dim: d, spec: state.spec });
      }
    }
  }
}

/** Plans `from` to `to`, settling the partial results on the axes in `scatter` with reduce-scatters. */
function planWith(from: ShardingSpec, to: ShardingSpec, settle: readonly string[], scatter: ReadonlySet<string>): ReshardStep[] {
  const state = new PlanState(from);
  scatterEarly(state, to, scatter);
  allReduceRest(state, settle, scatter);
  gatherMismatches(state, to);
  // Partial axes in `scatter` that scatterEarly could not place become reduce-scatters here. That is
  // sound because a gather or all-to-all along one axis keeps a partial result on another axis intact.
  state.dims.forEach((current, d) => {
    while (current.length < to.dims[d].length) state.splitOrScatter(to.dims[d][current.length], d);
  });
  return state.steps;
}

/** Returns every subset of `items`, the full set first and the empty set last. */
function subsetsOf<T>(items: readonly T[]): T[][] {
  let subsets: T[][] = [[]];
  for (const item of items) subsets = [...subsets.map((s) => [item, ...s]), ...subsets];
  return subsets;
}

/**
 * Plans the steps from `from` to `to`, which have the same rank. A partial result on an axis that `to`
 * splits is settled by a reduce-scatter on that dimension, before any gather where the target split
 * allows it. It is all-reduced instead when that moves fewer bytes on `mesh`, because gathering first
 * can make the reduce-scatter's input larger. Other partial results that `to` does not keep are
 * all-reduced before any gather. Then the plan gathers, innermost first, every split that is not a
 * prefix of the target split (an all-to-all when the axis moves to another dimension). Last it splits
 * locally, with a reduce-scatter for a partial axis that could not be settled earlier.
 */
export function planReshard(from: ShardingSpec, to: ShardingSpec, mesh: MeshLayout): ReshardStep[] {
  if (from.rank !== to.rank) throw new InternalError(`reshard ${from} to ${to}: ranks differ`);
  const settle = axesToSettle(from, to);
  const splitInTarget = new Set(to.dims.flat());
  const scatterable = settle.filter((axis) => splitInTarget.has(axis));
  let best: ReshardStep[] = [];
  let bestCost = Infinity;
  for (const scatter of subsetsOf(scatterable)) {
    const steps = planWith(from, to, settle, new Set(scatter));
    const cost = stepsCost(from, steps, 1, 1, mesh);
    if (cost < bestCost) [best, bestCost] = [steps, cost];
  }
  return best;
}

/** Number of devices along `axis`. */
export function axisSize(mesh: MeshLayout, axis: string): number {
  return mesh.shape[mesh.axisNames.indexOf(axis)];
}

/** Elements of one shard under `spec`, as if every split divided evenly; an estimate for the cost model. */
function shardElements(elements: number, spec: ShardingSpec, mesh: MeshLayout): number {
  return spec.dims.flat().reduce((n, axis) => n / axisSize(mesh, axis), elements);
}

/** Estimated bytes one device receives to run `steps` on a value of `elements` elements that starts as `from`. */
function stepsCost(from: ShardingSpec, steps: readonly ReshardStep[], elements: number, bytesPerElement: number, mesh: MeshLayout): number {
  let before = from;
  let bytes = 0;
  for (const step of steps) {
    const shard = shardElements(elements, before, mesh) * bytesPerElement;
    switch (step.kind) {
      case "allReduce": {
        const n = step.axes.reduce((p, axis) => p * axisSize(mesh, axis), 1);
        bytes += (2 * shard * (n - 1)) / n;
        break;
      }
      case "reduceScatter": {
        const n = axisSize(mesh, step.axis);
        bytes += (shard * (n - 1)) / n;
        break;
      }
      case "allGather":
        bytes += shard * (axisSize(mesh, step.axis) - 1);
        break;
      case "allToAll": {
        const n = axisSize(mesh, step.axis);
        bytes += (shard * (n - 1)) / n;
        break;
      }
      case "split":
        break;
      default:
        step satisfies never;
    }
    before = step.spec;
  }
  return bytes;
}

/**
 * Estimates the bytes one device receives to reshard a value of `elements` elements from `from` to
 * `to`. Of its input shard, a ring all-reduce receives 2(n-1)/n, a ring reduce-scatter (n-1)/n, an
 * all-gather n-1 shards and an all-to-all (n-1)/n. Local splits are free.
 */
export function reshardCost(from: ShardingSpec, to: ShardingSpec, elements: number, bytesPerElement: number, mesh: MeshLayout): number {
  return stepsCost(from, planReshard(from, to, mesh), elements, bytesPerElement, mesh);
}
