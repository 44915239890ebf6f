// TransformerEncoderLayer and TransformerEncoder, batch first, with PyTorch's parameter names.

import type { Tensor } from "../../core/tensor.js";
import { gelu } from "../../ops/activation.js";
import { add, relu } from "../../ops/elementwise.js";
import { ValueError } from "../../runtime/errors.js";
import { Module } from "../module.js";
import { cloneModule } from "../module-tree.js";
import { ModuleList } from "../containers.js";
import { Dropout } from "./activation.js";
import { MultiHeadAttention } from "./attention.js";
import { splitKey, type LayerOptions } from "./common.js";
import { Linear } from "./linear.js";
import { LayerNorm } from "./normalization.js";

export interface TransformerEncoderLayerOptions extends LayerOptions {
  /** Width of the feed-forward block (default 2048, as PyTorch). */
  readonly dimFeedforward?: number;
  /** Dropout after attention, inside and after the feed-forward block (default 0.1). */
  readonly dropout?: number;
  readonly activation?: "relu" | "gelu";
  readonly layerNormEps?: number;
  /** Pre-norm (LayerNorm before each block) when true; post-norm (the default) when false. */
  readonly normFirst?: boolean;
  readonly bias?: boolean;
}

export interface EncoderCallOptions {
  /** Attention mask, as MultiHeadAttention's attnMask. */
  readonly srcMask?: Tensor | null;
  /** [B, S] padding mask, as MultiHeadAttention's keyPaddingMask. */
  readonly srcKeyPaddingMask?: Tensor | null;
  readonly isCausal?: boolean;
}

/** Self-attention and a feed-forward block, each with a residual connection and LayerNorm, as torch.nn.TransformerEncoderLayer with batch_first. */
export class TransformerEncoderLayer extends Module {
  readonly normFirst: boolean;
  readonly activation: "relu" | "gelu";
  selfAttn: MultiHeadAttention;
  linear1: Linear;
  dropout: Dropout;
  linear2: Linear;
  norm1: LayerNorm;
  norm2: LayerNorm;
  dropout1: Dropout;
  dropout2: Dropout;

  constructor(dModel: number, numHeads: number, options: TransformerEncoderLayerOptions = {}) {
    super();
    const { dimFeedforward = 2048, dropout = 0.1, activation = "relu", layerNormEps = 1e-5, dtype, bias } = options;
    if (activation !== "relu" && activation !== "gelu") {
      throw new ValueError(`TransformerEncoderLayer: activation must be "relu" or "gelu", got ${JSON.stringify(activation)}`);
    }
    this.normFirst = options.normFirst ?? false;
    this.activation = activation;
    const [attnKey, key1, key2] = splitKey(options.key, 3);
    this.selfAttn = new MultiHeadAttention(dModel, numHeads, { dropout, bias, dtype, key: attnKey });
    this.linear1 = new Linear(dModel, dimFeedforward, { bias, dtype, key: key1 });
    this.dropout = new Dropout(dropout);
    this.linear2 = new Linear(dimFeedforward, dModel, { bias, dtype, key: key2 });
    this.norm1 = new LayerNorm(dModel, { eps: layerNormEps, bias, dtype });
    this.norm2 = new LayerNorm(dModel, { eps: layerNormEps, bias, dtype });
    this.dropout1 = new Dropout(dropout);
    this.dropout2 = new Dropout(dropout);
  }

  override forward(src: Tensor, options: EncoderCallOptions = {}): Tensor {
    let x = src;
    if (this.normFirst) {
      x = add(x, this.selfAttention(this.norm1.forward(x), options));
      return add(x, this.feedForward(this.norm2.forward(x)));
    }
    x = this.norm1.forward(add(x, this.selfAttention(x, options)));
    return this.norm2.forward(add(x, this.feedForward(x)));
  }

  private selfAttention(x: Tensor, options: EncoderCallOptions): Tensor {
    const attended = this.selfAttn.forward(x, x, x, {
      attnMask: options.srcMask,
      keyPaddingMask: options.srcKeyPaddingMask,
      isCausal: options.isCausal,
    });
    return this.dropout1.forward(attended);
  }

  private feedForward(x: Tensor): Tensor {
    const hidden = this.linear1.forward(x);
    const activated = this.activation === "gelu" ? gelu(hidden) : relu(hidden);
    return this.dropout2.forward(this.linear2.forward(this.dropout.forward(activated)));
  }
}

/**
 * A stack of encoder layers with an optional final norm. Given a layer, it contains `numLayers` copies
 * with the same initial values (as PyTorch deep-copies); given a factory, each layer is fresh.
 */
export class TransformerEncoder extends Module {
  layers: ModuleList<TransformerEncoderLayer>;
  norm: LayerNorm | null;

  constructor(layer: TransformerEncoderLayer | (() => TransformerEncoderLayer), numLayers: number, options: { norm?: LayerNorm } = {}) {
    super();
    if (!Number.isInteger(numLayers) || numLayers < 0) throw new ValueError(`TransformerEncoder: numLayers must be a non-negative integer, got ${numLayers}`);
    const make = typeof layer === "function" ? layer : () => cloneModule(layer);
    this.layers = new ModuleList(Array.from({ length: numLayers }, make));
    this.norm = options.norm ?? null;
  }

  override forward(src: Tensor, options: EncoderCallOptions = {}): Tensor {
    let x = src;
    for (const layer of this.layers) x = layer.forward(x, options);
    return this.norm === null ? x : this.norm.forward(x);
  }
}
