// Building blocks of the sharding rules: spec edits, partial bookkeeping and the cheapest common split.

import type { Aval } from "../core/node.js";
import type { ParamsOf, PrimitiveName } from "../core/primitive-names.js";
import { itemSize } from "../runtime/storage.js";
import { reshardCost } from "./reshard.js";
import { ShardingSpec, type MeshLayout, type PartialOp } from "./spec.js";

/** Input of a rule: the operands' current specs and avals, the output's aval and the params. */
export interface RuleArgs<K extends PrimitiveName> {
  readonly specs: readonly ShardingSpec[];
  readonly avals: readonly Aval[];
  readonly out: Aval;
  readonly params: ParamsOf<K>;
  readonly mesh: MeshLayout;
}

/** A rule's decision: the spec each operand must have before the local op, and the output's spec. */
export interface RuleResult {
  readonly inputs: readonly ShardingSpec[];
  readonly output: ShardingSpec;
}

export type ShardingRule<K extends PrimitiveName> = (args: RuleArgs<K>) => RuleResult;
export type Dims = readonly (readonly string[])[];
export type Partial = Readonly<Record<string, PartialOp>>;

export function elementsOf(aval: Aval): number {
  return aval.shape.reduce((a, b) => a * b, 1);
}

export function bytesOf(aval: Aval): number {
  return itemSize(aval.dtype);
}

/** `dims` with the listed dimensions replicated. */
export function replicateDims(dims: Dims, which: Iterable<number>): string[][] {
  const cleared = new Set(which);
  return dims.map((d, i) => (cleared.has(i) ? [] : [...d]));
}

/** `dims` without any axis in `axes`, so those axes stay free for partial results or other dimensions. */
export function withoutAxes(dims: Dims, axes: Iterable<string>): string[][] {
  const drop = new Set(axes);
  return dims.map((d) => d.filter((axis) => !drop.has(axis)));
}

/** Returns the partial entries of `spec` whose op is one of `ops`. */
export function partialsWith(spec: ShardingSpec, ops: readonly PartialOp[]): Record<string, PartialOp> {
  return Object.fromEntries(Object.entries(spec.partial).filter(([, op]) => ops.includes(op)));
}

/**
 * Candidate common splits of operands of one shape: each operand's own split, and their union taken
 * dimension by dimension (first operand first) while no axis repeats.
 */
function commonCandidates(operandDims: readonly Dims[]): string[][][] {
  const union: string[][] = operandDims[0].map(() => []);
  const used = new Set<string>();
  for (let d = 0; d < union.length; d++) {
    for (const dims of operandDims) {
      if (union[d].length === 0 && dims[d].length > 0 && dims[d].every((axis) => !used.has(axis))) {
        union[d] = [...dims[d]];
        for (const axis of dims[d]) used.add(axis);
      }
    }
  }
  return [union, ...operandDims.map((dims) => dims.map((d) => [...d]))];
}

/** Total estimated bytes to move every operand from its spec to `targets` (same order). */
export function totalCost(specs: readonly ShardingSpec[], targets: readonly ShardingSpec[], avals: readonly Aval[], mesh: MeshLayout): number {
  return specs.reduce((sum, spec, i) => sum + reshardCost(spec, targets[i], elementsOf(avals[i]), bytesOf(avals[i]), mesh), 0);
}

/**
 * Picks the split that operands of one shape should share: the candidate with the fewest bytes moved,
 * the first on ties. `partials[i]` is what operand i keeps pending, and its axes are never split.
 */
export function cheapestCommonDims(specs: readonly ShardingSpec[], avals: readonly Aval[], partials: readonly Partial[], mesh: MeshLayout): string[][] {
  const reserved = partials.flatMap((p) => Object.keys(p));
  const candidates = commonCandidates(specs.map((s) => withoutAxes(s.dims, reserved)));
  let best = candidates[0];
  let bestCost = Infinity;
  for (const dims of candidates) {
    const cost = totalCost(specs, specs.map((_, i) => new ShardingSpec(dims, partials[i])), avals, mesh);
    if (cost < bestCost) [best, bestCost] = [dims, cost];
  }
  return best;
}
