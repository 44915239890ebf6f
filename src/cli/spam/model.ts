// A Transformer email classifier: token embedding plus sinusoidal positions, encoder layers with a
// key padding mask, and mean pooling over the non-padded positions.

import * as nb from "nabla-ts";

export interface SpamModelConfig {
  readonly vocabSize: number;
  readonly seqLen: number;
  readonly dModel: number;
  readonly numHeads: number;
  readonly numLayers: number;
  readonly dimFeedforward: number;
  readonly dropout: number;
}

/** Sinusoidal positional encoding [seqLen, dModel]: sin on even columns, cos on odd ones. */
function positionalEncoding(seqLen: number, dModel: number): nb.Tensor {
  const pe = new Float32Array(seqLen * dModel);
  for (let pos = 0; pos < seqLen; pos++) {
    for (let i = 0; i < dModel; i += 2) {
      const angle = pos * Math.exp(-(i * Math.log(10000)) / dModel);
      pe[pos * dModel + i] = Math.sin(angle);
      if (i + 1 < dModel) pe[pos * dModel + i + 1] = Math.cos(angle);
    }
  }
  return nb.tensor(pe, { shape: [seqLen, dModel] });
}

export class SpamTransformer extends nb.nn.Module {
  declare readonly pe: nb.Tensor;
  embedding: nb.nn.Embedding;
  layers: nb.nn.TransformerEncoderLayer[];
  norm: nb.nn.LayerNorm;
  classifier: nb.nn.Linear;

  constructor(config: SpamModelConfig) {
    super();
    this.embedding = new nb.nn.Embedding(config.vocabSize, config.dModel);
    this.registerBuffer("pe", positionalEncoding(config.seqLen, config.dModel), { persistent: false });
    this.layers = Array.from(
      { length: config.numLayers },
      () => new nb.nn.TransformerEncoderLayer(config.dModel, config.numHeads, { dimFeedforward: config.dimFeedforward, dropout: config.dropout }),
    );
    this.norm = new nb.nn.LayerNorm(config.dModel);
    this.classifier = new nb.nn.Linear(config.dModel, 2);
  }

  /** Logits [B, 2] from token ids [B, S] and the key padding mask [B, S] (true at padding). */
  override forward(tokens: nb.Tensor, paddingMask: nb.Tensor): nb.Tensor {
    let x = nb.add(this.embedding.call(tokens), this.pe);
    for (const layer of this.layers) x = layer.call(x, { srcKeyPaddingMask: paddingMask });
    return this.classifier.call(this.norm.call(maskedMean(x, paddingMask)));
  }
}

/** Mean over axis 1 of x [B, S, D], counting only positions where `paddingMask` [B, S] is false. */
export function maskedMean(x: nb.Tensor, paddingMask: nb.Tensor): nb.Tensor {
  const keep = nb.cast(nb.logicalNot(paddingMask), x.dtype);
  const total = nb.sum(nb.mul(x, nb.unsqueeze(keep, -1)), { axis: 1 });
  const count = nb.maximum(nb.sum(keep, { axis: 1, keepdims: true }), 1);
  return nb.div(total, count);
}
