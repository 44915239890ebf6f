// Resharding: the collective and local steps that turn a value of one spec into the same value of
// another, and the bytes they move, which is the cost model the rules use to resolve conflicts.

import { InternalError } from "../runtime/errors.js";
import { ShardingSpec, type MeshLayout, type PartialOp } from "./spec.js";

/**
 * One step of a reshard, with the spec after it. `allReduce` settles pending partial results over
 * `axes`. `allGather` joins the shards of `dim` along `axis`, always the innermost axis splitting it.
 * `split` keeps this device's chunk of `dim` along `axis` without communication. `allToAll` gathers
 * `gatherDim` along `axis` and splits `splitDim` along it in one exchange.
 */
export type ReshardStep =
  | { readonly kind: "allReduce"; readonly axes: readonly string[]; readonly op: PartialOp; readonly spec: ShardingSpec }
  | { readonly kind: "allGather"; readonly axis: string; readonly dim: number; readonly spec: ShardingSpec }
  | { readonly kind: "split"; readonly axis: string; readonly dim: number; readonly spec: ShardingSpec }
  | { readonly kind: "allToAll"; readonly axis: string; readonly gatherDim: number; readonly splitDim: number; readonly spec: ShardingSpec };

function isPrefix(prefix: readonly string[], full: readonly string[]): boolean {
  return prefix.length <= full.length && prefix.every((axis, i) => full[i] === axis);
}

function settlePartials(from: ShardingSpec, to: ShardingSpec, steps: ReshardStep[]): Record<string, PartialOp> {
  const kept: Record<string, PartialOp> = {};
  const byOp = new Map<PartialOp, string[]>();
  for (const [axis, op] of Object.entries(from.partial)) {
    if (to.partial[axis] === op) kept[axis] = op;
    else byOp.set(op, [...(byOp.get(op) ?? []), axis]);
  }
  for (const axis of Object.keys(to.partial)) {
    if (from.partial[axis] !== to.partial[axis]) {
      throw new InternalError(`reshard ${from} to ${to}: a value cannot become partial on "${axis}" without a computation`);
    }
  }
  let settled: Record<string, PartialOp> = { ...from.partial };
  for (const [op, axes] of byOp) {
    settled = Object.fromEntries(Object.entries(settled).filter(([axis]) => !axes.includes(axis)));
    steps.push({ kind: "allReduce", axes, op, spec: new ShardingSpec(from.dims, settled) });
  }
  return kept;
}

/**
 * Plans the steps from `from` to `to`, which have the same rank. First it all-reduces the partial
 * results `to` does not keep. Then it gathers, innermost first, every split that is not a prefix of
 * the target split, as an all-to-all when the axis moves to another dimension. Last it splits locally.
 */
export function planReshard(from: ShardingSpec, to: ShardingSpec): ReshardStep[] {
  if (from.rank !== to.rank) throw new InternalError(`reshard ${from} to ${to}: ranks differ`);
  const steps: ReshardStep[] = [];
  const partial = settlePartials(from, to, steps);
  const dims = from.dims.map((d) => [...d]);
  const current = (): ShardingSpec => new ShardingSpec(dims, partial);

  for (let d = 0; d < dims.length; d++) {
    while (!isPrefix(dims[d], to.dims[d])) {
      const axis = dims[d].pop() as string;
      const target = dims.findIndex((other, j) => j !== d && isPrefix(other, to.dims[j]) && to.dims[j].length === other.length + 1 && to.dims[j][other.length] === axis);
      if (target >= 0) {
        dims[target].push(axis);
        steps.push({ kind: "allToAll", axis, gatherDim: d, splitDim: target, spec: current() });
      } else {
        steps.push({ kind: "allGather", axis, dim: d, spec: current() });
      }
    }
  }
  for (let d = 0; d < dims.length; d++) {
    while (dims[d].length < to.dims[d].length) {
      const axis = to.dims[d][dims[d].length];
      dims[d].push(axis);
      steps.push({ kind: "split", axis, dim: d, spec: current() });
    }
  }
  return steps;
}

/** Number of devices along `axis`. */
export function axisSize(mesh: MeshLayout, axis: string): number {
  return mesh.shape[mesh.axisNames.indexOf(axis)];
}

/** Elements of one shard under `spec`, as if every split divided evenly; an estimate for the cost model. */
function shardElements(elements: number, spec: ShardingSpec, mesh: MeshLayout): number {
  return spec.dims.flat().reduce((n, axis) => n / axisSize(mesh, axis), elements);
}

/**
 * Estimates the bytes one device receives to reshard a value of `elements` elements from `from` to
 * `to`. A ring all-reduce receives 2(n-1)/n of the shard, an all-gather n-1 shards and an all-to-all
 * (n-1)/n of the shard. Local splits are free.
 */
export function reshardCost(from: ShardingSpec, to: ShardingSpec, elements: number, bytesPerElement: number, mesh: MeshLayout): number {
  let before = from;
  let bytes = 0;
  for (const step of planReshard(from, to)) {
    const shard = shardElements(elements, before, mesh) * bytesPerElement;
    switch (step.kind) {
      case "allReduce": {
        const n = step.axes.reduce((p, axis) => p * axisSize(mesh, axis), 1);
        bytes += (2 * shard * (n - 1)) / n;
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
