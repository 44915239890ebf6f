// LayerNorm.

import type { Tensor } from "../../core/tensor.js";
import { layerNorm } from "../functional/layers.js";
import * as init from "../init.js";
import { Module } from "../module.js";
import { checkPositiveInt, emptyParameter, type LayerOptions } from "./common.js";

export interface LayerNormOptions extends Omit<LayerOptions, "key"> {
  /** Added to the variance before the square root (default 1e-5). */
  readonly eps?: number;
  /** Learn a per-element weight (starting at 1) and bias (starting at 0); default true. */
  readonly elementwiseAffine?: boolean;
  /** Learn the bias when elementwiseAffine is on; default true. */
  readonly bias?: boolean;
}

/** Layer normalisation over the trailing `normalizedShape` dimensions, as torch.nn.LayerNorm. */
export class LayerNorm extends Module {
  readonly normalizedShape: readonly number[];
  readonly eps: number;
  weight: Tensor | null;
  bias: Tensor | null;

  constructor(normalizedShape: number | readonly number[], options: LayerNormOptions = {}) {
    super();
    this.normalizedShape = typeof normalizedShape === "number" ? [normalizedShape] : [...normalizedShape];
    this.normalizedShape.forEach((d) => checkPositiveInt("LayerNorm", "each normalizedShape entry", d));
    this.eps = options.eps ?? 1e-5;
    const affine = options.elementwiseAffine ?? true;
    this.weight = affine ? init.ones(emptyParameter(this.normalizedShape, options.dtype)) : null;
    this.bias = affine && options.bias !== false ? emptyParameter(this.normalizedShape, options.dtype) : null;
  }

  override forward(x: Tensor): Tensor {
    return layerNorm(x, this.normalizedShape, this.weight, this.bias, this.eps);
  }
}
