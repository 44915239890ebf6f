// Forward mode: pushes tangents from the inputs to the outputs with each primitive's JVP rule.

import { bindTracked } from "../core/bind.js";
import { zeros } from "../core/creation.js";
import type { Node } from "../core/node.js";
import type { ParamsOf, PrimitiveName } from "../core/primitive-names.js";
import { treeFlatten, treeUnflatten } from "../core/pytree.js";
import { diffRule } from "../core/rules.js";
import { formatShape, shapesEqual } from "../core/shape.js";
import { tensorOf, type Tensor } from "../core/tensor.js";
import { ShapeError } from "../runtime/errors.js";
import { dependentOrder } from "./graph.js";

function pushForward(node: Node, tangents: Map<Node, Tensor>): Tensor | null {
  const prim = node.prim as PrimitiveName;
  const inputTangents = node.inputs.map((i) => tangents.get(i) ?? null);
  return diffRule(prim).jvp(inputTangents, node.inputs.map(tensorOf), tensorOf(node), node.params as ParamsOf<typeof prim>);
}

/**
 * Evaluates `fn` at `primals` and its directional derivative along `tangents` (same structures as the
 * primals). Returns `[outputs, outputTangents]` like `jax.jvp`.
 */
export function jvp<Out>(fn: (...args: never[]) => Out, primals: readonly unknown[], tangents: readonly unknown[]): [Out, Out] {
  const primalTree = treeFlatten([...primals]);
  const tangentTree = treeFlatten([...tangents]);
  if (primalTree.leaves.length !== tangentTree.leaves.length) {
    throw new ShapeError(`jvp: ${primalTree.leaves.length} primal tensors but ${tangentTree.leaves.length} tangent tensors; give one tangent per primal`);
  }

  const seeds = new Map<Node, Tensor>();
  const wrapped = primalTree.leaves.map((leaf, i) => {
    const tangent = tangentTree.leaves[i];
    if (!shapesEqual(tangent.shape, leaf.shape)) {
      throw new ShapeError(`jvp: tangent ${i} has shape ${formatShape(tangent.shape)} but its primal has shape ${formatShape(leaf.shape)}`);
    }
    const marker = bindTracked("identity", [leaf], {});
    seeds.set(marker.node, tangent);
    return marker;
  });

  const args = treeUnflatten(primalTree.treedef, wrapped) as never[];
  const out = fn(...args);
  const outTree = treeFlatten(out);

  const tangentsByNode = new Map(seeds);
  for (const node of dependentOrder(outTree.leaves.map((t) => t.node), (n) => seeds.has(n))) {
    if (seeds.has(node)) continue;
    const t = pushForward(node, tangentsByNode);
    if (t !== null) tangentsByNode.set(node, t);
  }

  const outTangents = outTree.leaves.map((leaf) => tangentsByNode.get(leaf.node) ?? zeros(leaf.shape, { dtype: leaf.dtype }));
  return [out, treeUnflatten(outTree.treedef, outTangents) as Out];
}
