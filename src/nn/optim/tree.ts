// Naming the leaves of a parameter pytree, so that optimizer state is keyed by name, not by structure.

import { isFloating } from "../../core/dtype.js";
import { treeFlatten, type TreeDef } from "../../core/pytree.js";
import type { Tensor } from "../../core/tensor.js";
import { formatShape, shapesEqual } from "../../core/shape.js";
import { ShapeError } from "../../runtime/errors.js";
import { moduleLeafNames } from "../module-tree.js";

export interface NamedLeaf {
  /** Dotted path: "layers.0.linear1.weight" in a module, "0.w" in an array of objects. */
  readonly name: string;
  readonly value: Tensor;
  /**
   * False for buffers and non-float leaves, which optimizers pass through unchanged.
   * NOTE: a Parameter with requiresGrad false still counts as trainable here, so the functional
   * optimizers update it; leave it out of the params tree to freeze it.
   */
  readonly trainable: boolean;
}

const join = (path: string, name: string): string => (path === "" ? name : `${path}.${name}`);

function nameLeaves(def: TreeDef, path: string, trainable: boolean, out: { name: string; trainable: boolean }[]): void {
  switch (def.kind) {
    case "leaf":
      out.push({ name: path, trainable });
      return;
    case "static":
      return;
    case "array":
      def.children.forEach((c, i) => nameLeaves(c, join(path, String(i)), trainable, out));
      return;
    case "object":
      def.children.forEach((c, i) => nameLeaves(c, join(path, def.keys[i]), trainable, out));
      return;
    case "custom": {
      const names = moduleLeafNames(def.aux);
      def.children.forEach((c, i) => {
        const entry = names?.[i];
        nameLeaves(c, join(path, entry?.name ?? String(i)), trainable && (entry?.trainable ?? true), out);
      });
      return;
    }
    default:
      def satisfies never;
  }
}

/** Flattens `tree` into named tensor leaves, plus the structure to rebuild it. */
export function namedLeaves(tree: unknown): { leaves: NamedLeaf[]; treedef: TreeDef } {
  const { leaves, treedef } = treeFlatten(tree);
  const names: { name: string; trainable: boolean }[] = [];
  nameLeaves(treedef, "", true, names);
  return {
    treedef,
    leaves: leaves.map((value, i) => ({ name: names[i].name, value, trainable: names[i].trainable && isFloating(value.dtype) })),
  };
}

/** Flattens `grads` and checks each leaf against the parameter leaf at the same position. */
export function matchingGrads(op: string, params: readonly NamedLeaf[], grads: unknown): Tensor[] {
  const { leaves } = treeFlatten(grads);
  if (leaves.length !== params.length) {
    throw new ShapeError(`${op}: the gradients have ${leaves.length} tensors but the parameters have ${params.length}; pass grads with the parameters' structure`);
  }
  leaves.forEach((g, i) => {
    if (!shapesEqual(g.shape, params[i].value.shape)) {
      throw new ShapeError(`${op}: the gradient of ${params[i].name} has shape ${formatShape(g.shape)}, the parameter ${formatShape(params[i].value.shape)}`);
    }
  });
  return leaves;
}
