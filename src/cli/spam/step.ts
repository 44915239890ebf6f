// The compiled training step of the spam classifier: loss and gradients, clipping to global norm 1,
// then AdamW. Called with a batch placed on a mesh, it runs data-parallel on the mesh's devices.

import * as nb from "nabla-ts";
import type { Batch } from "./data.js";
import type { SpamTransformer } from "./model.js";

export const maxGradNorm = 1.0;
export const weightDecay = 0.01;

export type Step = (model: SpamTransformer, state: nb.nn.optim.AdamState, batch: Batch, lr: number) => readonly [SpamTransformer, nb.nn.optim.AdamState, nb.Tensor];

function lossFn(model: SpamTransformer, tokens: nb.Tensor, mask: nb.Tensor, labels: nb.Tensor): nb.Tensor {
  return nb.nn.functional.crossEntropyLoss(model.call(tokens, mask), labels);
}

function update(model: SpamTransformer, grads: SpamTransformer, state: nb.nn.optim.AdamState, lr: number): [SpamTransformer, nb.nn.optim.AdamState] {
  const [clipped] = nb.nn.optim.clipByGlobalNorm(grads, maxGradNorm);
  return nb.nn.optim.adamwUpdate(model, clipped, state, { lr, weightDecay });
}

/**
 * Compiles the whole step as one function. On a mesh, clipping inside it all-reduces each of the 29
 * gradients on its own (44 all-reduces per step in all at the default size). Returning the gradients
 * from a first compiled function, which buckets them into one all-reduce, and clipping in a second
 * measured no faster.
 */
export function makeStep(): Step {
  const step = nb.compile((model: SpamTransformer, state: nb.nn.optim.AdamState, tokens: nb.Tensor, mask: nb.Tensor, labels: nb.Tensor, lr: number) => {
    const [loss, grads] = nb.valueAndGrad(lossFn)(model, tokens, mask, labels) as [nb.Tensor, SpamTransformer];
    return [...update(model, grads, state, lr), loss] as const;
  });
  return (model, state, batch, lr) => step(model, state, batch.tokens, batch.paddingMask, batch.labels, lr);
}
