// Shared pieces of primitive definitions: operand checks and rule helpers.

import type { Aval } from "../../core/node.js";
import { formatShape, shapesEqual } from "../../core/shape.js";
import type { Tensor } from "../../core/tensor.js";
import { InternalError } from "../../runtime/errors.js";
import { add } from "../elementwise.js";

/** Checks that operands share shape and dtype, which the public ops guarantee by broadcasting and promotion. */
export function sameAvals(prim: string, inputs: readonly Aval[], count: number): Aval {
  if (inputs.length !== count) throw new InternalError(`${prim} takes ${count} operands, got ${inputs.length}`);
  for (const a of inputs) {
    if (!shapesEqual(a.shape, inputs[0].shape) || a.dtype !== inputs[0].dtype) {
      throw new InternalError(`${prim}: operands ${inputs.map((i) => `${formatShape(i.shape)} ${i.dtype}`).join(", ")} differ; public ops broadcast and promote first`);
    }
  }
  return inputs[0];
}

/** Sum of tangents where null stands for zero; null if all are zero. */
export function addTangents(...terms: (Tensor | null)[]): Tensor | null {
  const present = terms.filter((t): t is Tensor => t !== null);
  if (present.length === 0) return null;
  return present.reduce((a, b) => add(a, b));
}
