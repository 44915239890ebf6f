// MultiHeadAttention, batch first, with PyTorch's parameter layout (packed input projection).

import { withShardingConstraint } from "../../sharding/api.js";
import { P } from "../../sharding/spec.js";
import { isTracing } from "../../core/trace-state.js";
import { formatShape } from "../../core/shape.js";
import type { Tensor } from "../../core/tensor.js";
import { reshape, slice, squeeze, swapAxes, unsqueeze } from "../../ops/layout.js";
import { mean } from "../../ops/reduction.js";
import { ShapeError, ValueError } from "../../runtime/errors.js";
import { additiveMask, attentionWithWeights, causalMask, combineMasks } from "../functional/attention.js";
import { linear } from "../functional/layers.js";
import * as init from "../init.js";
import { Module } from "../module.js";
import { checkPositiveInt, emptyParameter, splitKey, type LayerOptions } from "./common.js";
import { Linear } from "./linear.js";

export interface MultiHeadAttentionOptions extends LayerOptions {
  /** Dropout on the attention weights in training mode (default 0). */
  readonly dropout?: number;
  /** Learn the projection biases (default true). */
  readonly bias?: boolean;
}

export interface MultiHeadAttentionCallOptions {
  /** [B, S]: bool where true marks a padding key to ignore, or an additive float mask. */
  readonly keyPaddingMask?: Tensor | null;
  /** [L, S] or [B * numHeads, L, S]: bool where true blocks the pair, or an additive float mask. */
  readonly attnMask?: Tensor | null;
  /** Adds a causal mask (query i attends to keys 0..i only), combined with attnMask when both are given. */
  readonly isCausal?: boolean;
  /** With forwardWithWeights: average the weights over the heads (default true) or return them per head. */
  readonly averageAttnWeights?: boolean;
}

/**
 * Multi-head attention as torch.nn.MultiheadAttention with batchFirst: inputs are [B, L, E]
 * (or unbatched [L, E]). Masks follow PyTorch's module convention: in a bool mask true means
 * "do not attend". `forward` returns the output; `forwardWithWeights` also returns the weights.
 */
export class MultiHeadAttention extends Module {
  readonly embedDim: number;
  readonly numHeads: number;
  readonly headDim: number;
  readonly dropout: number;
  inProjWeight: Tensor;
  inProjBias: Tensor | null;
  outProj: Linear;
  /**
   * Mesh axis that splits the heads in compiled code (Megatron-style attention), or null. When set, the
   * q, k and v projections are computed column-parallel along it, each device on its heads; the packed
   * in-projection weight itself stays replicated. `nb.nn.tensorParallel` sets it.
   */
  headAxis: string | null = null;

  constructor(embedDim: number, numHeads: number, options: MultiHeadAttentionOptions = {}) {
    super();
    checkPositiveInt("MultiHeadAttention", "embedDim", embedDim);
    checkPositiveInt("MultiHeadAttention", "numHeads", numHeads);
    if (embedDim % numHeads !== 0) {
      throw new ValueError(`MultiHeadAttention: embedDim ${embedDim} must be divisible by numHeads ${numHeads}`);
    }
    this.embedDim = embedDim;
    this.numHeads = numHeads;
    this.headDim = embedDim / numHeads;
    this.dropout = options.dropout ?? 0;
    const [inKey, outKey] = splitKey(options.key, 2);
    this.inProjWeight = init.xavierUniform(emptyParameter([3 * embedDim, embedDim], options.dtype), { key: inKey });
    this.inProjBias = options.bias === false ? null : emptyParameter([3 * embedDim], options.dtype);
    this.outProj = new Linear(embedDim, embedDim, { bias: options.bias, dtype: options.dtype, key: outKey });
    if (this.outProj.bias !== null) init.zeros(this.outProj.bias);
  }

  override forward(query: Tensor, key?: Tensor, value?: Tensor, options: MultiHeadAttentionCallOptions = {}): Tensor {
    return this.forwardWithWeights(query, key, value, options)[0];
  }

  /** Returns [output, weights]; weights are [B, L, S] averaged over heads, or [B, numHeads, L, S]. */
  forwardWithWeights(query: Tensor, key: Tensor = query, value: Tensor = key, options: MultiHeadAttentionCallOptions = {}): [Tensor, Tensor] {
    const unbatched = query.ndim === 2;
    const [q, k, v] = unbatched ? [query, key, value].map((t) => unsqueeze(t, 0)) : [query, key, value];
    this.checkInputs(q, k, v);

    const [B, L] = q.shape;
    const S = k.shape[1];
    const heads = [this.project(q, 0), this.project(k, 1), this.project(v, 2)];
    const mask = this.buildMask(options, B, L, S, q.dtype);
    const [attended, weights] = attentionWithWeights(heads[0], heads[1], heads[2], mask, {
      dropoutP: this.training ? this.dropout : 0,
    });

    const merged = reshape(swapAxes(attended, 1, 2), [B, L, this.embedDim]);
    const out = this.outProj.forward(merged);
    const returned = options.averageAttnWeights === false ? weights : mean(weights, 1);
    return unbatched ? [squeeze(out, 0), squeeze(returned, 0)] : [out, returned];
  }

  private checkInputs(q: Tensor, k: Tensor, v: Tensor): void {
    const ok = [q, k, v].every((t) => t.ndim === 3 && t.shape[0] === q.shape[0] && t.shape[2] === this.embedDim) && k.shape[1] === v.shape[1];
    if (!ok) {
      throw new ShapeError(
        `MultiHeadAttention: query ${formatShape(q.shape)}, key ${formatShape(k.shape)} and value ${formatShape(v.shape)} must be ` +
          `[B, L, ${this.embedDim}], [B, S, ${this.embedDim}] and [B, S, ${this.embedDim}] (batch first)`,
      );
    }
  }

  /** Projects with rows [part * E, (part + 1) * E) of the packed weight and splits heads: [B, H, T, D]. */
  private project(x: Tensor, part: number): Tensor {
    const E = this.embedDim;
    const w = this.splitHeads(slice(this.inProjWeight, [[part * E, (part + 1) * E]]));
    const b = this.inProjBias === null ? null : this.splitHeads(slice(this.inProjBias, [[part * E, (part + 1) * E]]));
    const [B, T] = x.shape;
    return swapAxes(reshape(linear(x, w, b), [B, T, this.numHeads, this.headDim]), 1, 2);
  }

  /** Splits a projection's output features over `headAxis` while tracing; the chunks hold whole heads when the axis divides numHeads. */
  private splitHeads(t: Tensor): Tensor {
    if (this.headAxis === null || !isTracing()) return t;
    return withShardingConstraint(t, t.ndim === 2 ? P(this.headAxis, null) : P(this.headAxis));
  }

  /** Builds the additive mask, broadcastable to [B, H, L, S], or returns null when no mask applies. */
  private buildMask(options: MultiHeadAttentionCallOptions, B: number, L: number, S: number, dtype: Tensor["dtype"]): Tensor | null {
    let mask: Tensor | null = null;
    if (options.attnMask !== undefined && options.attnMask !== null) {
      const m = options.attnMask;
      const fits = (m.ndim === 2 && m.shape[0] === L && m.shape[1] === S) || (m.ndim === 3 && m.shape[0] === B * this.numHeads && m.shape[1] === L && m.shape[2] === S);
      if (!fits) throw new ShapeError(`MultiHeadAttention: attnMask ${formatShape(m.shape)} must be [${L}, ${S}] or [${B * this.numHeads}, ${L}, ${S}]`);
      const additive = additiveMask(m, dtype, true);
      mask = m.ndim === 3 ? reshape(additive, [B, this.numHeads, L, S]) : additive;
    }
    if (options.keyPaddingMask !== undefined && options.keyPaddingMask !== null) {
      const m = options.keyPaddingMask;
      if (m.ndim !== 2 || m.shape[0] !== B || m.shape[1] !== S) {
        throw new ShapeError(`MultiHeadAttention: keyPaddingMask ${formatShape(m.shape)} must be [${B}, ${S}] (batch, key length)`);
      }
      mask = combineMasks(mask, reshape(additiveMask(m, dtype, true), [B, 1, 1, S]));
    }
    if (options.isCausal) mask = combineMasks(mask, causalMask(L, S, dtype));
    return mask;
  }
}
