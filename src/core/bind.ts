// Recording a primitive application: checks shapes and dtypes now, computes nothing until realization.

import { Node } from "./node.js";
import { isGradEnabled } from "./grad-mode.js";
import { evalRule } from "./primitive.js";
import type { ParamsOf, PrimitiveName } from "./primitive-names.js";
import { Tensor } from "./tensor.js";

/** Applies primitive `prim` to `inputs` lazily and returns the result's handle. */
export function bind<K extends PrimitiveName>(prim: K, inputs: readonly Tensor[], params: ParamsOf<K>): Tensor {
  const nodes = inputs.map((t) => t.node);
  const aval = evalRule(prim).abstractEval(
    nodes.map((n) => n.aval),
    params,
  );
  const tracked = isGradEnabled() && nodes.some((n) => n.tracked);
  return new Tensor(Node.op(prim, params, nodes, aval, tracked));
}

/** Like `bind`, but the result is always tracked; used to mark the inputs of a differentiated function. */
export function bindTracked<K extends PrimitiveName>(prim: K, inputs: readonly Tensor[], params: ParamsOf<K>): Tensor {
  const nodes = inputs.map((t) => t.node);
  const aval = evalRule(prim).abstractEval(
    nodes.map((n) => n.aval),
    params,
  );
  return new Tensor(Node.op(prim, params, nodes, aval, true));
}
