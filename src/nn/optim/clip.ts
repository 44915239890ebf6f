// Gradient clipping by the global L2 norm.

import { noGrad } from "../../core/grad-mode.js";
import { scalar } from "../../core/creation.js";
import { treeMap } from "../../core/pytree.js";
import { realize, type Tensor } from "../../core/tensor.js";
import { add, cast, div, minimum, mul, sqrt } from "../../ops/elementwise.js";
import { sum } from "../../ops/reduction.js";
import { ValueError } from "../../runtime/errors.js";
import { Module } from "../module.js";
import { namedLeaves } from "./tree.js";

/** sqrt of the sum of squares of every element of `tensors`, as a float32 scalar (0 for none). */
function globalNorm(tensors: readonly Tensor[]): Tensor {
  const squares = tensors.map((t) => cast(sum(mul(t, t)), "float32"));
  return sqrt(squares.reduce((a, b) => add(a, b), scalar(0, "float32")));
}

/** min(1, maxNorm / (norm + 1e-6)), PyTorch's clip coefficient. */
function clipCoefficient(norm: Tensor, maxNorm: number): Tensor {
  if (!(maxNorm > 0)) throw new ValueError(`clipGradNorm: maxNorm must be positive, got ${maxNorm}`);
  return minimum(div(maxNorm, add(norm, 1e-6)), 1);
}

/**
 * Scales the `.grad` of every parameter (of a module or a list) so that their global L2 norm is at
 * most `maxNorm`, as torch.nn.utils.clip_grad_norm_. Returns the norm before clipping.
 */
export function clipGradNorm(parameters: Module | Iterable<Tensor>, maxNorm: number): Tensor {
  const params = (parameters instanceof Module ? parameters.parameters() : [...parameters]).filter((p) => p.grad !== null);
  return noGrad(() => {
    const norm = globalNorm(params.map((p) => p.grad as Tensor));
    const coefficient = clipCoefficient(norm, maxNorm);
    for (const p of params) p.grad = mul(p.grad as Tensor, cast(coefficient, (p.grad as Tensor).dtype));
    realize(norm, ...params.map((p) => p.grad as Tensor));
    return norm;
  });
}

/**
 * The functional form: returns `[clippedGrads, norm]` for a gradient pytree (a grads module
 * included) without realizing anything, so it can run inside compile. Buffers' gradients are
 * left out of the norm and passed through.
 */
export function clipByGlobalNorm<G>(grads: G, maxNorm: number): [G, Tensor] {
  const { leaves } = namedLeaves(grads);
  const trainable = leaves.map((l) => l.trainable);
  const norm = globalNorm(leaves.filter((l) => l.trainable).map((l) => l.value));
  const coefficient = clipCoefficient(norm, maxNorm);
  const clipped = treeMap((g, i) => (trainable[i] ? mul(g, cast(coefficient, g.dtype)) : g), grads) as G;
  return [clipped, norm];
}
