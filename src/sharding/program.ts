// SPMD programs: the per-device local programs the partitioner emits, with explicit collective steps.

import type { Aval } from "../core/node.js";
import type { ParamsByPrimitive, PrimitiveName } from "../core/primitive-names.js";
import type { Storage } from "../runtime/storage.js";
import type { ShardingSpec, MeshLayout, PartialOp } from "./spec.js";

/** A device's group along some mesh axes: its members in rank order and this device's rank. */
export interface Group {
  readonly members: readonly number[];
  readonly rank: number;
}

/**
 * One step of a device's program. Slots hold local buffers; `out` is the local aval of the result.
 * Collectives name the mesh axes they run along and this device's group along them.
 */
export type LocalStep =
  /** A primitive on local shards, with params rewritten to local shapes. */
  | { readonly kind: "compute"; readonly prim: PrimitiveName; readonly params: ParamsByPrimitive[PrimitiveName]; readonly inputs: readonly number[]; readonly inAvals: readonly Aval[]; readonly output: number; readonly out: Aval; readonly label: string }
  /** A constant, whole on every device. */
  | { readonly kind: "constant"; readonly value: Storage; readonly output: number; readonly out: Aval }
  /** A reduction over an empty shard: the identity of its op (-Infinity for max), so no 0 leaks in. */
  | { readonly kind: "fill"; readonly value: number; readonly output: number; readonly out: Aval; readonly label: string }
  /** out[j] = op over the group, in rank order, of input[j], for each pair of the bucket. */
  | { readonly kind: "allReduce"; readonly op: PartialOp; readonly axes: readonly string[]; readonly group: Group; readonly inputs: readonly number[]; readonly outputs: readonly number[]; readonly outs: readonly Aval[] }
  /**
   * Concatenates the group's shards along `dim` in rank order; shards may differ in length (uneven chunks).
   * NOTE: the mesh runtime's allGather takes equal blocks, so its executor must pad uneven shards.
   */
  | { readonly kind: "allGather"; readonly axis: string; readonly dim: number; readonly group: Group; readonly input: number; readonly output: number; readonly out: Aval }
  /** Keeps chunk `group.rank` of `dim` (torch.chunk bounds); no communication. */
  | { readonly kind: "split"; readonly axis: string; readonly dim: number; readonly group: Group; readonly input: number; readonly output: number; readonly out: Aval }
  /** Sends chunk r of `splitDim` to rank r and concatenates the received chunks along `gatherDim` in rank order. */
  | { readonly kind: "allToAll"; readonly axis: string; readonly gatherDim: number; readonly splitDim: number; readonly group: Group; readonly input: number; readonly output: number; readonly out: Aval }
  /** Reduces the group's whole inputs with `op` in rank order and keeps chunk `group.rank` of `dim` (torch.chunk bounds). */
  | { readonly kind: "reduceScatter"; readonly op: PartialOp; readonly axis: string; readonly dim: number; readonly group: Group; readonly input: number; readonly output: number; readonly out: Aval }
  /** Each [source, target] pair of group ranks sends the source's input to the target, and ranks that no pair targets get zeros. */
  | { readonly kind: "permute"; readonly axis: string; readonly pairs: readonly (readonly [source: number, target: number])[]; readonly group: Group; readonly input: number; readonly output: number; readonly out: Aval };

export type CollectiveKind = "allReduce" | "allGather" | "allToAll" | "reduceScatter" | "permute";

/** One device's part of an SPMD program. */
export interface LocalProgram {
  readonly device: number;
  readonly slotCount: number;
  /** Slot of each program input's local shard, in input order. */
  readonly inputSlots: readonly number[];
  readonly steps: readonly LocalStep[];
  /** Slot of each output's local shard, in output order. */
  readonly outputSlots: readonly number[];
}

/** A partitioned graph: one local program per mesh device and the global view of inputs and outputs. */
export interface SpmdProgram {
  readonly mesh: MeshLayout;
  readonly inputs: readonly { readonly aval: Aval; readonly spec: ShardingSpec }[];
  readonly outputs: readonly { readonly aval: Aval; readonly spec: ShardingSpec }[];
  readonly devices: readonly LocalProgram[];
}

export function isCollective(step: LocalStep): step is Extract<LocalStep, { kind: CollectiveKind }> {
  switch (step.kind) {
    case "allReduce":
    case "allGather":
    case "allToAll":
    case "reduceScatter":
    case "permute":
      return true;
    case "compute":
    case "constant":
    case "fill":
    case "split":
      return false;
    default:
      return step satisfies never;
  }
}

/** Counts the collective steps of one device's program by kind (every device runs the same collectives). */
export function countCollectives(program: SpmdProgram): Record<CollectiveKind, number> {
  const counts: Record<CollectiveKind, number> = { allReduce: 0, allGather: 0, allToAll: 0, reduceScatter: 0, permute: 0 };
  for (const step of program.devices[0].steps) if (isCollective(step)) counts[step.kind]++;
  return counts;
}
