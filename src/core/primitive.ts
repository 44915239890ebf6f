// The evaluation half of the primitive registry: shape and dtype rules and reference implementations.
// ops/ defines the primitives and installs them here when it loads.

import { InternalError } from "../runtime/errors.js";
import type { Storage } from "../runtime/storage.js";
import type { Aval } from "./node.js";
import type { ParamsOf, PrimitiveName } from "./primitive-names.js";

export interface PrimitiveEval<K extends PrimitiveName> {
  /** Shape and dtype rule: validates the operands and returns the output's aval. */
  abstractEval(inputs: readonly Aval[], params: ParamsOf<K>): Aval;
  /** Reference implementation: plain TypeScript, float64 arithmetic, result stored in `out.dtype`. */
  impl(inputs: readonly Storage[], avals: readonly Aval[], params: ParamsOf<K>, out: Aval): Storage;
}

export type EvalTable = { readonly [K in PrimitiveName]: PrimitiveEval<K> };

let table: EvalTable | undefined;

export function installEvalTable(evalTable: EvalTable): void {
  table = evalTable;
}

export function evalRule<K extends PrimitiveName>(prim: K): PrimitiveEval<K> {
  if (table === undefined) throw new InternalError("primitives are not installed; import nabla-ts through its index");
  return table[prim] as PrimitiveEval<K>;
}
