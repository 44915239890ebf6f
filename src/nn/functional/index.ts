// nn.functional: stateless layers, losses and attention.

export { linear, layerNorm, dropout, type DropoutOptions } from "./layers.js";
export {
  crossEntropyLoss, mseLoss, binaryCrossEntropyWithLogits,
  type CrossEntropyOptions, type BceWithLogitsOptions, type Reduction,
} from "./loss.js";
export { scaledDotProductAttention, causalMask, additiveMask, type AttentionOptions } from "./attention.js";
export { softmax, logSoftmax } from "../../ops/reduction.js";
export { gelu } from "../../ops/activation.js";
export { relu, tanh, sigmoid } from "../../ops/elementwise.js";
