// nn.optim: stateful and functional optimizers, learning-rate schedules and gradient clipping.

export { Optimizer, type ParameterSource, type OptimizerStateDict } from "./optimizer.js";
export { AdamW, Adam, SGD, type AdamConfig, type SgdConfig } from "./stateful.js";
export {
  adamwInit, adamwUpdate, adamInit, adamUpdate, sgdInit, sgdUpdate,
  type AdamState, type AdamOptions, type SgdState, type SgdOptions,
} from "./functional.js";
export { linearWarmup, cosineDecay, stepDecay, warmupCosineDecay, type Schedule } from "./schedules.js";
export { clipGradNorm, clipByGlobalNorm } from "./clip.js";
