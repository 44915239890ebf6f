// Lowerings: the way each primitive runs on the WebAssembly backend. It is fused into an elementwise
// kernel, becomes a strided view of its input, gets a dedicated kernel, or runs its reference
// implementation over device memory.

import { InternalError } from "../runtime/errors.js";
import type { Expr } from "../runtime/wasm/elementwise/ir.js";
import type { Aval } from "./node.js";
import type { ParamsOf, PrimitiveName } from "./primitive-names.js";

/** A strided view over a buffer, in elements: element i of the view is buffer[offset + sum_d i_d * strides[d]]. */
export interface StridedView {
  readonly strides: readonly number[];
  readonly offset: number;
}

export type Lowering<K extends PrimitiveName> =
  /** Fusable: builds the output expression from the operands' expressions. */
  | { readonly kind: "elementwise"; readonly expr: (args: readonly Expr[], out: Aval, params: ParamsOf<K>) => Expr }
  /** No data movement: the output is a view of the single input, or null when it cannot be one. */
  | { readonly kind: "view"; readonly view: (input: StridedView, inAval: Aval, out: Aval, params: ParamsOf<K>) => StridedView | null }
  | { readonly kind: "matmul" }
  | { readonly kind: "reduce" }
  | { readonly kind: "argReduce" }
  /** Normalizes along `params.axis`; the last axis of a float32 input runs as one row kernel. */
  | { readonly kind: "softmax" }
  /** Layer norm over the last axis or its packed backward; float32 data runs on the row kernels. */
  | { readonly kind: "layerNorm" }
  | { readonly kind: "layerNormGrad" }
  | { readonly kind: "gather" }
  | { readonly kind: "scatterAdd" }
  | { readonly kind: "pad" }
  /** Passes its int32 input through after checking every element against [0, params.bound). */
  | { readonly kind: "checkIndices" }
  | { readonly kind: "concat" }
  /** A counter-based draw from the key operand: raw bits, uniforms in [0, 1) or standard normals. */
  | { readonly kind: "random"; readonly draw: "bits" | "uniform" | "normal" }
  /** Runs the reference implementation on views of device memory. */
  | { readonly kind: "reference" };

export type LoweringTable = { readonly [K in PrimitiveName]: Lowering<K> };

let table: LoweringTable | undefined;

export function installLowerings(lowerings: LoweringTable): void {
  table = lowerings;
}

export function loweringOf<K extends PrimitiveName>(prim: K): Lowering<K> {
  if (table === undefined) throw new InternalError("lowerings are not installed; import nabla-ts through its index");
  return table[prim] as Lowering<K>;
}
