// The differentiation half of the primitive registry: VJP and JVP rules written with tensor ops, so
// that the rules are themselves differentiable and higher-order derivatives compose.

import { InternalError } from "../runtime/errors.js";
import type { ParamsOf, PrimitiveName } from "./primitive-names.js";
import type { PrimitiveEval } from "./primitive.js";
import type { Tensor } from "./tensor.js";

export interface DiffRules<K extends PrimitiveName> {
  /**
   * Reverse mode: given the output's cotangent, the cotangent of each input, or null where no
   * gradient flows (integer operands, indices, comparisons).
   */
  vjp(cotangent: Tensor, inputs: readonly Tensor[], out: Tensor, params: ParamsOf<K>): readonly (Tensor | null)[];
  /** Forward mode: the output's tangent from the inputs' tangents (null means zero), or null if it is zero. */
  jvp(tangents: readonly (Tensor | null)[], inputs: readonly Tensor[], out: Tensor, params: ParamsOf<K>): Tensor | null;
}

/** Everything defined for one primitive: its shape and dtype rule, reference implementation and derivatives. */
export type PrimitiveDef<K extends PrimitiveName> = PrimitiveEval<K> & DiffRules<K>;

export type PrimitiveTable = { readonly [K in PrimitiveName]: PrimitiveDef<K> };

let table: PrimitiveTable | undefined;

export function installDiffRules(rules: PrimitiveTable): void {
  table = rules;
}

export function diffRule<K extends PrimitiveName>(prim: K): DiffRules<K> {
  if (table === undefined) throw new InternalError("differentiation rules are not installed; import nabla-ts through its index");
  return table[prim] as DiffRules<K>;
}
