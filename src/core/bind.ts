// Recording a primitive application: checks shapes and dtypes now, computes nothing until realization.

import { Node } from "./node.js";
import { isGradEnabled } from "./grad-mode.js";
import { evalRule } from "./primitive.js";
import type { ParamsOf, PrimitiveName } from "./primitive-names.js";
import { Tensor } from "./tensor.js";

/**
 * Rewrites the operands of a primitive before it is recorded. nb.shardMap installs one while it traces
 * its body, to mark where a value shared by a group of devices enters per-device computation.
 */
export type OperandHook = (prim: PrimitiveName, inputs: readonly Tensor[], params: unknown) => readonly Tensor[];

let operandHook: OperandHook | undefined;

/** Installs `hook` (or removes the current one with undefined); returns the hook it replaces. */
export function setOperandHook(hook: OperandHook | undefined): OperandHook | undefined {
  const previous = operandHook;
  operandHook = hook;
  return previous;
}

/** Applies primitive `prim` to `inputs` lazily and returns the result's handle. */
export function bind<K extends PrimitiveName>(prim: K, inputs: readonly Tensor[], params: ParamsOf<K>): Tensor {
  const tracked = isGradEnabled() && inputs.some((t) => t.node.tracked);
  return apply(prim, inputs, params, tracked);
}

/** Like `bind`, but the result is always tracked; used to mark the inputs of a differentiated function. */
export function bindTracked<K extends PrimitiveName>(prim: K, inputs: readonly Tensor[], params: ParamsOf<K>): Tensor {
  return apply(prim, inputs, params, true);
}

function apply<K extends PrimitiveName>(prim: K, operands: readonly Tensor[], params: ParamsOf<K>, tracked: boolean): Tensor {
  const inputs = operandHook === undefined ? operands : operandHook(prim, operands, params);
  const nodes = inputs.map((t) => t.node);
  const aval = evalRule(prim).abstractEval(
    nodes.map((n) => n.aval),
    params,
  );
  // A result is weakly typed only when every operand is, as in JAX; a cast makes it strong.
  const weak = prim !== "cast" && nodes.length > 0 && nodes.every((n) => n.aval.weak === true);
  const typed = weak ? { ...aval, weak } : aval.weak ? { shape: aval.shape, dtype: aval.dtype } : aval;
  return new Tensor(Node.op(prim, params, nodes, typed, tracked));
}
