// Reverse mode: propagates cotangents from outputs back to sources with each primitive's VJP rule.

import { bind } from "../core/bind.js";
import { isFloating } from "../core/dtype.js";
import type { Node } from "../core/node.js";
import type { ParamsOf, PrimitiveName } from "../core/primitive-names.js";
import { diffRule } from "../core/rules.js";
import { formatShape, shapesEqual } from "../core/shape.js";
import { tensorOf, type Tensor } from "../core/tensor.js";
import { InternalError } from "../runtime/errors.js";
import { dependentOrder } from "./graph.js";

function accumulate(cotangents: Map<Node, Tensor>, node: Node, value: Tensor): void {
  const typed = value.dtype === node.dtype ? value : bind("cast", [value], { dtype: node.dtype });
  const previous = cotangents.get(node);
  cotangents.set(node, previous === undefined ? typed : bind("add", [previous, typed], {}));
}

/** Applies the VJP rule of `node` and adds the results into its inputs' cotangents. */
function pullBack(node: Node, cotangent: Tensor, cotangents: Map<Node, Tensor>, onPath: Set<Node>): void {
  const prim = node.prim as PrimitiveName;
  const inputs = node.inputs.map(tensorOf);
  const results = diffRule(prim).vjp(cotangent, inputs, tensorOf(node), node.params as ParamsOf<typeof prim>);

  node.inputs.forEach((input, i) => {
    const ct = results[i];
    if (ct === null || ct === undefined || !onPath.has(input) || !isFloating(input.dtype)) return;
    if (!shapesEqual(ct.shape, input.shape)) {
      throw new InternalError(`vjp of ${prim} gave a cotangent of shape ${formatShape(ct.shape)} for an input of shape ${formatShape(input.shape)}`);
    }
    accumulate(cotangents, input, ct);
  });
}

/**
 * Cotangents of the sources reached from `outputs`, seeded with `seeds` (one per output). A source
 * that no output depends on is absent from the result.
 */
export function backwardPass(outputs: readonly Node[], seeds: readonly Tensor[], isSource: (node: Node) => boolean): Map<Node, Tensor> {
  const order = dependentOrder(outputs, isSource);
  const onPath = new Set(order);
  const cotangents = new Map<Node, Tensor>();
  outputs.forEach((node, i) => {
    if (onPath.has(node)) accumulate(cotangents, node, seeds[i]);
  });

  const result = new Map<Node, Tensor>();
  for (let i = order.length - 1; i >= 0; i--) {
    const node = order[i];
    const cotangent = cotangents.get(node);
    if (cotangent === undefined) continue;
    cotangents.delete(node);
    if (isSource(node)) result.set(node, cotangent);
    else pullBack(node, cotangent, cotangents, onPath);
  }
  return result;
}
