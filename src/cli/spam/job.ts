// The spam classifier training job: data, the baseline row, the Transformer trained with a compiled
// JAX-style step, evaluation after each epoch, checkpoints and exact resume.

import { mkdirSync } from "node:fs";
import * as nb from "nabla-ts";
import { hashedBagOfWords, predictBaseline, trainBaseline } from "./baseline.js";
import { type Checkpoint, listCheckpoints, loadCheckpoint, saveCheckpoint } from "./checkpoint.js";
import { type Email, type EncodedSplit, encodeSplit, loadEmails, makeBatch, stratifiedSplit, tokenize, visibleText, Vocabulary } from "./data.js";
import { scores, type Scores } from "./metrics.js";
import { SpamTransformer, type SpamModelConfig } from "./model.js";
import { type EpochRecord, ProgressBar, writeMetricsCsv, writePlot } from "./report.js";
import { SeededRandom } from "./seeded-random.js";

export interface TrainOptions {
  readonly epochs: number;
  readonly batchSize: number;
  readonly seqLen: number;
  /** Peak learning rate of the warm-up + cosine schedule. */
  readonly lr: number;
  readonly seed: number;
  /** Output folder for checkpoints, metrics.csv and training.svg. */
  readonly out: string;
  /** Devices of the data-parallel mesh; only 1 until tensors can be sharded. */
  readonly mesh: number;
  /** false, true (the newest checkpoint in `out`), or the path of a checkpoint. */
  readonly resume: boolean | string;
  readonly dModel: number;
  readonly numHeads: number;
  readonly numLayers: number;
  readonly dimFeedforward: number;
  readonly dropout: number;
  readonly vocabSize: number;
  /** Uses only the first `limit` training emails and limit / 4 test emails (0 for all), for quick runs. */
  readonly limit: number;
  /** The emails to use in place of the corpus, for tests. */
  readonly emails?: readonly Email[];
  /** Stops after this many epochs in this run, as an interrupted run would (the schedule still spans `epochs`). */
  readonly stopAfter?: number;
  readonly log: (line: string) => void;
}

export const defaultTrainOptions: TrainOptions = {
  epochs: 4,
  batchSize: 32,
  seqLen: 128,
  lr: 2e-3,
  seed: 0,
  out: "runs/spam-classifier",
  mesh: 1,
  resume: false,
  dModel: 64,
  numHeads: 4,
  numLayers: 2,
  dimFeedforward: 128,
  dropout: 0.1,
  vocabSize: 8192,
  limit: 0,
  log: (line) => console.log(line),
};

export interface TrainResult {
  readonly baseline: Scores;
  readonly records: readonly EpochRecord[];
  /** Loss of every step run in this process, in order. */
  readonly stepLosses: readonly number[];
  /** Index of the first step in `stepLosses` (non-zero after a resume). */
  readonly firstStep: number;
}

interface Prepared {
  readonly train: EncodedSplit;
  readonly test: EncodedSplit;
  readonly trainTokens: string[][];
  readonly testTokens: string[][];
  readonly vocab: Vocabulary;
}

/** Loads, splits, tokenises and encodes the corpus. */
function prepareData(options: TrainOptions): Prepared {
  const split = stratifiedSplit(options.emails ?? loadEmails(), options.seed);
  const limit = (emails: Email[], n: number): Email[] => (options.limit > 0 ? emails.slice(0, n) : emails);
  const train = limit(split.train, options.limit);
  const test = limit(split.test, Math.max(1, Math.floor(options.limit / 4)));
  const trainTokens = train.map((e) => tokenize(visibleText(e.text)));
  const testTokens = test.map((e) => tokenize(visibleText(e.text)));
  const vocab = Vocabulary.fromTexts(trainTokens, options.vocabSize);
  return {
    train: encodeSplit(trainTokens, train.map((e) => e.label), vocab, options.seqLen),
    test: encodeSplit(testTokens, test.map((e) => e.label), vocab, options.seqLen),
    trainTokens,
    testTokens,
    vocab,
  };
}

/** Trains the hashed bag-of-words baseline on the same truncated token lists the Transformer reads. */
function runBaseline(data: Prepared, seqLen: number): Scores {
  const truncate = (lists: string[][]): string[][] => lists.map((t) => t.slice(0, seqLen));
  const model = trainBaseline(hashedBagOfWords(truncate(data.trainTokens)), nb.tensor(data.train.labels));
  return scores(predictBaseline(model, hashedBagOfWords(truncate(data.testTokens))), data.test.labels);
}

type Step = (
  model: SpamTransformer, state: nb.nn.optim.AdamState, tokens: nb.Tensor, mask: nb.Tensor, labels: nb.Tensor, lr: number,
) => readonly [SpamTransformer, nb.nn.optim.AdamState, nb.Tensor];

/** Compiles the training step: loss and gradients, clipping to global norm 1, then AdamW. */
function makeStep(): Step {
  const lossFn = (m: SpamTransformer, tokens: nb.Tensor, mask: nb.Tensor, labels: nb.Tensor): nb.Tensor =>
    nb.nn.functional.crossEntropyLoss(m.call(tokens, mask), labels);
  return nb.compile((model: SpamTransformer, state: nb.nn.optim.AdamState, tokens: nb.Tensor, mask: nb.Tensor, labels: nb.Tensor, lr: number) => {
    const [loss, grads] = nb.valueAndGrad(lossFn)(model, tokens, mask, labels) as [nb.Tensor, SpamTransformer];
    const [clipped] = nb.nn.optim.clipByGlobalNorm(grads, 1.0);
    const [next, nextState] = nb.nn.optim.adamwUpdate(model, clipped, state, { lr, weightDecay: 0.01 });
    return [next, nextState, loss] as const;
  });
}

/** Predicted labels of the whole split, in eval mode. */
function predict(forward: (m: SpamTransformer, t: nb.Tensor, p: nb.Tensor) => nb.Tensor, model: SpamTransformer, data: EncodedSplit, batchSize: number): Int32Array {
  model.eval();
  const out = new Int32Array(data.count);
  for (let start = 0; start < data.count; start += batchSize) {
    const rows = Array.from({ length: Math.min(batchSize, data.count - start) }, (_, i) => start + i);
    const batch = makeBatch(data, rows);
    out.set(nb.argmax(forward(model, batch.tokens, batch.paddingMask), { axis: -1 }).toArray() as Int32Array, start);
  }
  model.train();
  return out;
}

/** The values a checkpoint must share with the flags of a resumed run, by flag name. */
function resumeConfig(options: TrainOptions, vocabSize: number): Record<string, number> {
  return {
    "--epochs": options.epochs,
    "--batch-size": options.batchSize,
    "--seq-len": options.seqLen,
    "--lr": options.lr,
    "--seed": options.seed,
    "--limit": options.limit,
    dModel: options.dModel,
    numHeads: options.numHeads,
    numLayers: options.numLayers,
    dimFeedforward: options.dimFeedforward,
    dropout: options.dropout,
    vocabSize,
  };
}

function checkResumeConfig(saved: Readonly<Record<string, number>>, current: Record<string, number>, path: string): void {
  for (const [name, value] of Object.entries(current)) {
    if (saved[name] !== value) {
      throw new nb.ValueError(`${name} is ${value}, but the checkpoint ${path} was saved with ${saved[name]}; resume with the same value, or train from scratch in another --out folder`);
    }
  }
}

function resumePath(options: TrainOptions): string | undefined {
  if (options.resume === false) return undefined;
  if (typeof options.resume === "string") return options.resume;
  const newest = listCheckpoints(options.out).pop();
  if (newest === undefined) throw new nb.ValueError(`--resume: no checkpoint-epoch-*.nb file in ${options.out}; check --out, or start without --resume`);
  return newest;
}

/** Runs the job and returns the baseline scores, the epoch records and the losses of this run's steps. */
export function train(options: TrainOptions): TrainResult {
  const log = options.log;
  if (options.mesh !== 1) {
    throw new nb.NotSupportedError(`--mesh ${options.mesh}: accepted values: 1. Data-parallel training over a larger mesh needs tensor sharding, which nabla-ts does not have yet`);
  }
  mkdirSync(options.out, { recursive: true });
  nb.random.seed(options.seed);

  const data = prepareData(options);
  log(`Data: ${data.train.count} training and ${data.test.count} test emails, vocabulary ${data.vocab.size}, sequence length ${options.seqLen}`);
  const baseline = runBaseline(data, options.seqLen);
  log(`Baseline (logistic regression on hashed bag of words): test accuracy ${percent(baseline.accuracy)}, F1 ${baseline.f1.toFixed(4)}`);

  const modelConfig: SpamModelConfig = { ...options, vocabSize: data.vocab.size };
  let model = new SpamTransformer(modelConfig);
  model.train();
  const numParams = model.numParameters();
  log(`Transformer: ${options.numLayers} layers, d_model ${options.dModel}, ${options.numHeads} heads, ${numParams} parameters (${(numParams * 4 / 2 ** 20).toFixed(2)} MiB in float32)`);

  let state = nb.nn.optim.adamwInit(model);
  const stepsPerEpoch = Math.floor(data.train.count / options.batchSize);
  if (stepsPerEpoch === 0) throw new nb.ValueError(`--batch-size ${options.batchSize} is larger than the ${data.train.count} training emails; pass a smaller value`);
  const totalSteps = stepsPerEpoch * options.epochs;
  const schedule = nb.nn.optim.warmupCosineDecay({ peakLr: options.lr, warmupSteps: Math.max(1, Math.round(totalSteps * 0.1)), decaySteps: totalSteps + 1 });

  let checkpoint: Checkpoint = {
    config: resumeConfig(options, data.vocab.size),
    epoch: 0,
    step: 0,
    params: {},
    optimizer: state,
    dataOrderState: options.seed,
    randomState: nb.random.getState(),
    records: [],
    stepLosses: [],
  };
  const fromPath = resumePath(options);
  if (fromPath !== undefined) {
    const saved = loadCheckpoint(fromPath, options.out);
    checkResumeConfig(saved.config, checkpoint.config, fromPath);
    model.loadStateDict(saved.params);
    state = saved.optimizer;
    nb.random.setState(saved.randomState);
    checkpoint = saved;
    log(`Resumed from ${fromPath} after epoch ${saved.epoch} (step ${saved.step})`);
  }

  const step = makeStep();
  const forward = nb.compile((m: SpamTransformer, tokens: nb.Tensor, mask: nb.Tensor) => m.call(tokens, mask));
  const records = [...checkpoint.records];
  const allLosses = [...checkpoint.stepLosses];
  const firstStep = checkpoint.step;
  let globalStep = checkpoint.step;
  let dataOrderState = checkpoint.dataOrderState;
  const lastEpoch = Math.min(options.epochs, options.stopAfter ?? options.epochs);

  for (let epoch = checkpoint.epoch; epoch < lastEpoch; epoch++) {
    const order = new SeededRandom(dataOrderState);
    const rows = order.shuffled(Array.from({ length: data.train.count }, (_, i) => i));
    dataOrderState = order.state;
    const bar = new ProgressBar(`epoch ${epoch + 1}/${options.epochs}`, stepsPerEpoch);
    const started = performance.now();
    let lossSum = 0;
    for (let b = 0; b < stepsPerEpoch; b++) {
      const batch = makeBatch(data.train, rows.slice(b * options.batchSize, (b + 1) * options.batchSize));
      // The step is counted from 1, so the rate is never exactly 0 (an integral first value would compile a second program).
      const lr = schedule(globalStep + 1);
      let loss: nb.Tensor;
      [model, state, loss] = step(model, state, batch.tokens, batch.paddingMask, batch.labels, lr);
      const value = loss.item();
      if (!Number.isFinite(value)) throw new nb.ValueError(`the training loss became ${value} at step ${globalStep}; lower --lr (now ${options.lr})`);
      allLosses.push(value);
      lossSum += value;
      globalStep++;
      bar.update(b + 1, value, ((b + 1) * options.batchSize) / ((performance.now() - started) / 1000));
    }
    bar.finish();
    const examplesPerSecond = (stepsPerEpoch * options.batchSize) / ((performance.now() - started) / 1000);

    const testScores = scores(predict(forward, model, data.test, options.batchSize), data.test.labels);
    const record: EpochRecord = { epoch: epoch + 1, trainLoss: lossSum / stepsPerEpoch, examplesPerSecond, ...testScores };
    records.push(record);
    log(
      `epoch ${epoch + 1}: train loss ${record.trainLoss.toFixed(4)}, test accuracy ${percent(record.accuracy)}, ` +
        `precision ${record.precision.toFixed(4)}, recall ${record.recall.toFixed(4)}, F1 ${record.f1.toFixed(4)}, ${examplesPerSecond.toFixed(0)} examples/s`,
    );

    checkpoint = {
      ...checkpoint,
      epoch: epoch + 1,
      step: globalStep,
      params: model.stateDict(),
      optimizer: state,
      dataOrderState,
      randomState: nb.random.getState(),
      records: [...records],
      stepLosses: [...allLosses],
    };
    const path = saveCheckpoint(options.out, checkpoint);
    writeMetricsCsv(options.out, records);
    writePlot(options.out, allLosses, records, baseline.accuracy);
    log(`Saved ${path}`);
  }

  const final = records.at(-1);
  if (final !== undefined) {
    const verdict = final.accuracy > baseline.accuracy ? "above" : "not above";
    log(`Final test accuracy ${percent(final.accuracy)}, ${verdict} the baseline's ${percent(baseline.accuracy)}`);
  }
  return { baseline, records, stepLosses: allLosses.slice(firstStep), firstStep };
}

function percent(fraction: number): string {
  return `${(fraction * 100).toFixed(2)}%`;
}
