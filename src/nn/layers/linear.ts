// Linear and Embedding layers.

import { arange } from "../../core/creation.js";
import { noGrad } from "../../core/grad-mode.js";
import type { Tensor } from "../../core/tensor.js";
import { stopGradient, where, equal } from "../../ops/elementwise.js";
import { gather } from "../../ops/indexing.js";
import { reshape, unsqueeze } from "../../ops/layout.js";
import { DTypeError, IndexError } from "../../runtime/errors.js";
import { linear } from "../functional/layers.js";
import * as init from "../init.js";
import { Module } from "../module.js";
import { checkPositiveInt, emptyParameter, splitKey, type LayerOptions } from "./common.js";

/** y = x W^T + b. W is [outFeatures, inFeatures]; both start in U(-1/sqrt(in), 1/sqrt(in)) as in PyTorch. */
export class Linear extends Module {
  readonly inFeatures: number;
  readonly outFeatures: number;
  weight: Tensor;
  bias: Tensor | null;

  constructor(inFeatures: number, outFeatures: number, options: LayerOptions & { bias?: boolean } = {}) {
    super();
    checkPositiveInt("Linear", "outFeatures", outFeatures);
    if (!Number.isInteger(inFeatures) || inFeatures < 0) checkPositiveInt("Linear", "inFeatures", inFeatures);
    this.inFeatures = inFeatures;
    this.outFeatures = outFeatures;
    const [weightKey, biasKey] = splitKey(options.key, 2);
    // kaiming_uniform with a = sqrt(5) gives the bound 1 / sqrt(fanIn), PyTorch's default for Linear.
    this.weight = init.kaimingUniform(emptyParameter([outFeatures, inFeatures], options.dtype), { a: Math.sqrt(5), key: weightKey });
    const bound = inFeatures > 0 ? 1 / Math.sqrt(inFeatures) : 0;
    this.bias = options.bias === false ? null : init.uniform(emptyParameter([outFeatures], options.dtype), { low: -bound, high: bound, key: biasKey });
  }

  override forward(x: Tensor): Tensor {
    return linear(x, this.weight, this.bias);
  }
}

/** A lookup table of `numEmbeddings` vectors of size `embeddingDim`, initialised from N(0, 1). */
export class Embedding extends Module {
  readonly numEmbeddings: number;
  readonly embeddingDim: number;
  /** Row whose output gets no gradient (and starts at zero), or null. */
  readonly paddingIdx: number | null;
  weight: Tensor;

  constructor(numEmbeddings: number, embeddingDim: number, options: LayerOptions & { paddingIdx?: number } = {}) {
    super();
    checkPositiveInt("Embedding", "numEmbeddings", numEmbeddings);
    checkPositiveInt("Embedding", "embeddingDim", embeddingDim);
    this.numEmbeddings = numEmbeddings;
    this.embeddingDim = embeddingDim;
    this.paddingIdx = normalizePadding(options.paddingIdx, numEmbeddings);
    this.weight = init.normal(emptyParameter([numEmbeddings, embeddingDim], options.dtype), { key: options.key });
    if (this.paddingIdx !== null) zeroRow(this.weight, this.paddingIdx);
  }

  /** Looks up int32 indices of any shape; the result has shape [...indices.shape, embeddingDim]. */
  override forward(indices: Tensor): Tensor {
    if (indices.dtype !== "int32") {
      throw new DTypeError(`Embedding: indices must be int32, got ${indices.dtype}; pass integer data (int64 data is narrowed to int32 by nb.tensor)`);
    }
    const rows = gather(this.weight, indices, 0);
    if (this.paddingIdx === null) return rows;
    const isPadding = unsqueeze(equal(indices, this.paddingIdx), -1);
    return where(isPadding, stopGradient(rows), rows);
  }
}

function normalizePadding(paddingIdx: number | undefined, numEmbeddings: number): number | null {
  if (paddingIdx === undefined) return null;
  if (!Number.isInteger(paddingIdx) || paddingIdx < -numEmbeddings || paddingIdx >= numEmbeddings) {
    throw new IndexError(`Embedding: paddingIdx ${paddingIdx} is out of range for ${numEmbeddings} embeddings`);
  }
  return paddingIdx < 0 ? paddingIdx + numEmbeddings : paddingIdx;
}

function zeroRow(weight: Tensor, row: number): void {
  const rows = weight.shape[0];
  noGrad(() => weight.assign(where(equal(reshape(arange(rows), [rows, 1]), row), 0, weight)));
}
