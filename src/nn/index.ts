// nn: modules, layers, functional forms, initialisers and optimizers (`nb.nn`).

import "./module-tree.js";

export { Module, type LoadStateDictOptions, type LoadStateDictResult } from "./module.js";
export { Parameter } from "./parameter.js";
export { cloneModule } from "./module-tree.js";
export { ModuleList, Sequential } from "./containers.js";
export { Linear, Embedding } from "./layers/linear.js";
export { LayerNorm, type LayerNormOptions } from "./layers/normalization.js";
export { Dropout, ReLU, GELU, Tanh } from "./layers/activation.js";
export { MultiHeadAttention, type MultiHeadAttentionOptions, type MultiHeadAttentionCallOptions } from "./layers/attention.js";
export {
  TransformerEncoderLayer, TransformerEncoder, type TransformerEncoderLayerOptions, type EncoderCallOptions,
} from "./layers/transformer.js";
export type { LayerOptions } from "./layers/common.js";
export { shardModule, feedForwardParallel, tensorParallel, type ShardingRules } from "./sharding/shard-module.js";
export * as functional from "./functional/index.js";
export * as init from "./init.js";
export * as optim from "./optim/index.js";
