// The Transformer sequence classifier and synthetic task shared by the two training examples.

import * as nb from "nabla-ts";
import { LegacyRandomState } from "./numpy-random.js";

/** Sinusoidal positional encoding [maxLen, dModel]: sin on even columns, cos on odd ones, in float32. */
export function makePositionalEncoding(maxLen: number, dModel: number): nb.Tensor {
  const pe = new Float32Array(maxLen * dModel);
  for (let pos = 0; pos < maxLen; pos++) {
    for (let i = 0; i < dModel; i += 2) {
      const divTerm = Math.fround(Math.exp(Math.fround(i * -(Math.log(10000) / dModel))));
      const angle = Math.fround(pos * divTerm);
      pe[pos * dModel + i] = Math.sin(angle);
      if (i + 1 < dModel) pe[pos * dModel + i + 1] = Math.cos(angle);
    }
  }
  return nb.tensor(pe, { shape: [maxLen, dModel] });
}

export interface ClassifierConfig {
  readonly vocabSize: number;
  readonly dModel: number;
  readonly numHeads: number;
  readonly numLayers: number;
  readonly numClasses: number;
  readonly maxLen: number;
  readonly dimFeedforward: number;
  /** Dropout inside the encoder layers; the notebook uses 0. */
  readonly dropout?: number;
}

/** Embedding plus fixed positional encoding, a stack of encoder layers kept in a plain array, mean pooling and a linear head. */
export class TransformerClassifier extends nb.nn.Module {
  readonly dModel: number;
  /** Fixed positional encoding, a non-persistent buffer: not trained and not saved. */
  declare readonly pe: nb.Tensor;
  embedding: nb.nn.Embedding;
  layers: nb.nn.TransformerEncoderLayer[];
  classifier: nb.nn.Linear;

  constructor(config: ClassifierConfig) {
    super();
    this.dModel = config.dModel;
    this.embedding = new nb.nn.Embedding(config.vocabSize, config.dModel);
    this.registerBuffer("pe", makePositionalEncoding(config.maxLen, config.dModel), { persistent: false });
    this.layers = Array.from(
      { length: config.numLayers },
      () => new nb.nn.TransformerEncoderLayer(config.dModel, config.numHeads, {
        dimFeedforward: config.dimFeedforward,
        dropout: config.dropout ?? 0,
      }),
    );
    this.classifier = new nb.nn.Linear(config.dModel, config.numClasses);
  }

  override forward(tokenIds: nb.Tensor, paddingMask?: nb.Tensor): nb.Tensor {
    const seqLen = tokenIds.shape[tokenIds.ndim - 1];
    const pe = nb.sliceTensor(this.pe, { start: [0, 0], size: [seqLen, this.dModel] });
    let x = this.embedding.call(tokenIds).add(pe);
    for (const layer of this.layers) x = layer.call(x, { srcKeyPaddingMask: paddingMask });
    return this.classifier.call(nb.mean(x, { axis: -2 }));
  }
}

/** The notebook's configuration: d_model 32, 4 heads, 2 layers, feed-forward 64, sequences of 8 tokens. */
export const seedConfig: ClassifierConfig = { vocabSize: 20, dModel: 32, numHeads: 4, numLayers: 2, numClasses: 3, maxLen: 8, dimFeedforward: 64 };

/** Prints the dataset and model lines that open both examples. */
export function printSummary(config: ClassifierConfig, task: SyntheticTask, model: TransformerClassifier): void {
  const samples = task.tokens.shape[0];
  console.log(`Dataset: ${samples} sequences of length ${config.maxLen}`);
  console.log(`Vocab size: ${config.vocabSize}, Classes: ${config.numClasses}`);
  console.log(`Sample tokens: [${task.firstTokens.map((t) => String(t).padStart(2)).join(" ")}]`);
  console.log(`Sample label:  ${task.firstLabel}`);
  const numParams = model.parameters().reduce((n, p) => n + p.numel(), 0);
  console.log(`Model: ${config.numLayers} encoder layers, d_model=${config.dModel}, heads=${config.numHeads}`);
  console.log(`Total trainable parameters: ${numParams}`);
}

export interface SyntheticTask {
  readonly tokens: nb.Tensor;
  readonly labels: nb.Tensor;
  readonly labelsOneHot: nb.Tensor;
  readonly firstTokens: number[];
  readonly firstLabel: number;
}

/**
 * Random token sequences with label = (sum of tokens) mod numClasses, drawn exactly as the original
 * notebook's `np.random.seed(seed); np.random.randint(0, vocabSize, (n, seqLen))`.
 */
export function makeSyntheticTask(seed: number, samples: number, seqLen: number, vocabSize: number, numClasses: number): SyntheticTask {
  const draws = new LegacyRandomState(seed).randint(0, vocabSize, samples * seqLen);
  const labels = Array.from({ length: samples }, (_, i) => draws.slice(i * seqLen, (i + 1) * seqLen).reduce((a, b) => a + b, 0) % numClasses);
  const labelTensor = nb.tensor(Int32Array.from(labels));
  return {
    tokens: nb.tensor(Int32Array.from(draws), { shape: [samples, seqLen] }),
    labels: labelTensor,
    labelsOneHot: nb.oneHot(labelTensor, numClasses),
    firstTokens: draws.slice(0, seqLen),
    firstLabel: labels[0],
  };
}

/** Fraction of rows whose arg-max logit is the label. */
export function accuracy(logits: nb.Tensor, labels: nb.Tensor): number {
  const correct = nb.equal(nb.argmax(logits, { axis: -1 }), labels);
  return nb.mean(nb.cast(correct, "float32")).item();
}

/** Pads a cell to `width` characters, left-aligned like Python's `{:<width}`. */
export function cell(value: string | number, width: number): string {
  return String(value).padEnd(width);
}

export function formatPercent(fraction: number): string {
  return `${(fraction * 100).toFixed(2)}%`;
}
