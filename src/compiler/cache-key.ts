// The compile cache key: an explicit, printable value, and an explanation of what changed on a miss.

import type { Aval } from "../core/node.js";
import { treedefToString, type TreeDef } from "../core/pytree.js";
import { exactNumber } from "../core/schedule.js";

export interface CacheKey {
  readonly structure: string;
  readonly leaves: readonly string[];
  readonly statics: string;
  /** The whole key as one string, used for lookup and printing. */
  readonly text: string;
}

/** Shape, dtype, weak flag and placement ("single", or the mesh and spec) of one argument leaf. */
export function describeLeaf(aval: Aval, placement = "single"): string {
  return `${aval.dtype}${aval.weak === true ? "~" : ""}[${aval.shape.join(",")}]@${placement}`;
}

function describeStatic(value: unknown): string {
  if (typeof value === "function") return `fn:${value.name || "anonymous"}`;
  try {
    return JSON.stringify(value, exactNumber) ?? String(value);
  } catch {
    return String(value);
  }
}

export function makeCacheKey(treedef: TreeDef, avals: readonly Aval[], statics: readonly unknown[], placements?: readonly string[]): CacheKey {
  const structure = treedefToString(treedef);
  const leaves = avals.map((aval, i) => describeLeaf(aval, placements?.[i]));
  const staticText = statics.map(describeStatic).join(", ");
  return { structure, leaves, statics: staticText, text: `tree=${structure} | leaves=(${leaves.join(", ")}) | static=(${staticText})` };
}

/** Names the first part of `key` that differs from `previous`, for the NABLA_DEBUG=1 miss log. */
export function explainMiss(key: CacheKey, previous: CacheKey | undefined): string {
  if (previous === undefined) return "first call";
  if (key.structure !== previous.structure) return `argument structure changed from ${previous.structure} to ${key.structure}`;
  if (key.statics !== previous.statics) return `static arguments changed from (${previous.statics}) to (${key.statics})`;
  const i = key.leaves.findIndex((leaf, j) => leaf !== previous.leaves[j]);
  if (i >= 0) return `leaf ${i} changed from ${previous.leaves[i]} to ${key.leaves[i]}`;
  return "key seen before but evicted";
}
