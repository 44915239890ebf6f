// The sharding rule of matmul [..., M, K] x [..., K, N]: batch dimensions share a split, M follows the
// left operand, N the right one, and a split K on both sides leaves a pending sum on its axes.

import type { Aval } from "../core/node.js";
import { bytesOf, elementsOf, totalCost, withoutAxes, type Dims, type RuleArgs, type RuleResult } from "./rule-helpers.js";
import { reshardCost } from "./reshard.js";
import { ShardingSpec, type MeshLayout, type PartialOp } from "./spec.js";

type Slot = "batch" | "m" | "n" | "k";

const orders: readonly (readonly Slot[])[] = [
  ["batch", "m", "n", "k"],
  ["batch", "k", "m", "n"],
  ["k", "batch", "m", "n"],
  ["batch", "n", "m", "k"],
];

/**
 * Returns the sum partials of `x` that stay pending through the product: sum(a_i) B = sum(a_i B) when
 * the other operand is neither partial nor split on the axis.
 */
function passingPartials(x: ShardingSpec, other: ShardingSpec): Record<string, PartialOp> {
  const otherAxes = new Set(other.axes);
  return Object.fromEntries(Object.entries(x.partial).filter(([axis, op]) => op === "sum" && !otherAxes.has(axis)));
}

/** Assigns axes to the slots in `order`, each slot taking its preferred axes that are still free. */
function assign(order: readonly Slot[], preferred: Record<Slot, readonly (readonly string[])[]>, reserved: readonly string[]): Record<Slot, string[][]> {
  const used = new Set(reserved);
  const result = { batch: [], m: [], n: [], k: [] } as Record<Slot, string[][]>;
  for (const slot of order) {
    result[slot] = preferred[slot].map((d) => {
      if (d.some((axis) => used.has(axis))) return [];
      for (const axis of d) used.add(axis);
      return [...d];
    });
  }
  return result;
}

function candidate(a: ShardingSpec, b: ShardingSpec, slots: Record<Slot, string[][]>, partialA: Record<string, PartialOp>, partialB: Record<string, PartialOp>): RuleResult {
  const [k] = slots.k;
  const output: Record<string, PartialOp> = { ...partialA, ...partialB };
  for (const axis of k) output[axis] = "sum";
  return {
    inputs: [new ShardingSpec([...slots.batch, slots.m[0], k], partialA), new ShardingSpec([...slots.batch, k, slots.n[0]], partialB)],
    output: new ShardingSpec([...slots.batch, slots.m[0], slots.n[0]], output),
  };
}

/** Estimated bytes: the operands' reshards plus settling the output's new sum partials once. */
function cost(result: RuleResult, specs: readonly ShardingSpec[], avals: readonly Aval[], out: Aval, mesh: MeshLayout): number {
  const inputs = totalCost(specs, result.inputs, avals, mesh);
  const settled = new ShardingSpec(result.output.dims);
  return inputs + reshardCost(result.output, settled, elementsOf(out), bytesOf(out), mesh);
}

export function matmulRule({ specs, avals, out, mesh }: RuleArgs<"matmul">): RuleResult {
  const [a, b] = specs;
  const partialA = passingPartials(a, b);
  const partialB = passingPartials(b, a);
  const reserved = [...Object.keys(partialA), ...Object.keys(partialB)];
  const [da, db]: Dims[] = [withoutAxes(a.dims, reserved), withoutAxes(b.dims, reserved)];
  const r = da.length;
  const batchA = da.slice(0, r - 2);
  const batchB = db.slice(0, r - 2);

  let best: RuleResult | undefined;
  let bestCost = Infinity;
  for (const batch of [batchA, batchB]) {
    for (const k of [da[r - 1], db[r - 2]]) {
      for (const order of orders) {
        const slots = assign(order, { batch, m: [da[r - 2]], n: [db[r - 1]], k: [k] }, reserved);
        const result = candidate(a, b, slots, partialA, partialB);
        const c = cost(result, specs, avals, out, mesh);
        if (c < bestCost) [best, bestCost] = [result, c];
      }
    }
  }
  return best as RuleResult;
}
