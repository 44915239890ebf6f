// Training steps shared by the examples: one PyTorch-style step and one JAX-style step of the same math.

import * as nb from "nabla-ts";
import type { TransformerClassifier } from "./transformer-classifier.js";

export const learningRate = 1e-3;

export function lossFn(model: TransformerClassifier, tokens: nb.Tensor, targets: nb.Tensor): nb.Tensor {
  return nb.nn.functional.crossEntropyLoss(model.call(tokens), targets);
}

/** zeroGrad, forward, backward, step: the imperative loop body. Returns the loss. */
export function imperativeStep(model: TransformerClassifier, optimizer: nb.nn.optim.AdamW, tokens: nb.Tensor, targets: nb.Tensor): nb.Tensor {
  model.train();
  model.zeroGrad();
  const loss = lossFn(model, tokens, targets);
  loss.backward();
  optimizer.step();
  return loss;
}

/** valueAndGrad then adamwUpdate: the functional step, pure, so it can be compiled. */
export function functionalStep(
  model: TransformerClassifier,
  optState: nb.nn.optim.AdamState,
  tokens: nb.Tensor,
  targets: nb.Tensor,
): [TransformerClassifier, nb.nn.optim.AdamState, nb.Tensor] {
  const [loss, grads] = nb.valueAndGrad(lossFn, { argnums: 0 })(model, tokens, targets) as [nb.Tensor, TransformerClassifier];
  const [next, state] = nb.nn.optim.adamwUpdate(model, grads, optState, { lr: learningRate });
  return [next, state, loss];
}

export function elapsedMs(start: number): number {
  return performance.now() - start;
}
