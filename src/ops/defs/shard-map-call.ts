// shardMapCall: an output of an nb.shardMap call in the caller's graph, so that gradients flow through
// the call. The compiler layer installs its derivatives, which run the transposed or pushed-forward body
// as another shardMap call.

import type { ParamsOf } from "../../core/primitive-names.js";
import type { DiffRules, PrimitiveDef } from "../../core/rules.js";
import { InternalError } from "../../runtime/errors.js";

let rules: DiffRules<"shardMapCall"> | undefined;

/** Installs the VJP and JVP of shardMapCall; compiler/shard-map-grad.ts calls it when it loads. */
export function installShardMapCallRules(installed: DiffRules<"shardMapCall">): void {
  rules = installed;
}

function installedRules(): DiffRules<"shardMapCall"> {
  if (rules === undefined) throw new InternalError("shardMapCall derivatives are not installed; import nabla-ts through its index");
  return rules;
}

function neverEvaluated(): never {
  throw new InternalError("shardMapCall nodes are created with their value by nb.shardMap, so they are never bound or evaluated");
}

const shardMapCall: PrimitiveDef<"shardMapCall"> = {
  abstractEval: neverEvaluated,
  impl: neverEvaluated,
  vjp: (ct, inputs, out, params: ParamsOf<"shardMapCall">) => installedRules().vjp(ct, inputs, out, params),
  jvp: (tangents, inputs, out, params: ParamsOf<"shardMapCall">) => installedRules().jvp(tangents, inputs, out, params),
};

export const shardMapCallDefs = { shardMapCall };
