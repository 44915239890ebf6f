// The spam classifier training job: data, the baseline row, the Transformer trained data-parallel with
// a compiled JAX-style step, evaluation after each epoch, checkpoints and exact resume.

import { existsSync, mkdirSync, statSync } from "node:fs";
import { UsageError } from "../args.js";
import * as nb from "nabla-ts";
import { hashedBagOfWords, predictBaseline, trainBaseline } from "./baseline.js";
import { type Checkpoint, loadCheckpoint, saveCheckpoint } from "./checkpoint.js";
import { type Email, type EncodedSplit, encodeSplit, loadEmails, makeBatch, stratifiedSplit, tokenize, visibleText, Vocabulary } from "./data.js";
import { checkBatchSplit, closeLayout, describeLayout, type Layout, openLayout, placeBatch, planLayout } from "./mesh.js";
import { scores, type Scores } from "./metrics.js";
import { SpamTransformer, type SpamModelConfig } from "./model.js";
import type { TrainOptions } from "./options.js";
import { type EpochRecord, ProgressBar, writeMetricsCsv, writePlot } from "./report.js";
import { checkResumeConfig, meshChangeNote, resumeConfig, resumePath } from "./resume.js";
import { SeededRandom } from "./seeded-random.js";
import { makeStep, type Step } from "./step.js";

export { defaultTrainOptions, type TrainOptions } from "./options.js";

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

type Forward = (m: SpamTransformer, tokens: nb.Tensor, mask: nb.Tensor) => nb.Tensor;

/** Predicted labels of the whole split, in eval mode, with each batch split over the layout's devices. */
function predict(forward: Forward, model: SpamTransformer, data: EncodedSplit, batchSize: number, layout: Layout): Int32Array {
  model.eval();
  const out = new Int32Array(data.count);
  for (let start = 0; start < data.count; start += batchSize) {
    const rows = Array.from({ length: Math.min(batchSize, data.count - start) }, (_, i) => start + i);
    const batch = placeBatch(makeBatch(data, rows), layout);
    out.set(nb.argmax(forward(model, batch.tokens, batch.paddingMask), { axis: -1 }).toArray() as Int32Array, start);
  }
  model.train();
  return out;
}

function checkOutputFolder(out: string): void {
  if (existsSync(out) && !statSync(out).isDirectory()) throw new UsageError(`--out ${out} is a file, not a folder; pass a folder path (it is created if missing)`);
}

/** Fails early, before the data is prepared, when --resume names a file that does not exist. */
function checkResumeFile(options: TrainOptions): void {
  if (typeof options.resume === "string" && !existsSync(options.resume)) {
    throw new UsageError(`--resume=${options.resume}: no such file; pass a checkpoint-epoch-*.nb file, or --resume alone for the newest one in --out`);
  }
}

/** Runs the job and returns the baseline scores, the epoch records and the losses of this run's steps. */
export async function train(options: TrainOptions): Promise<TrainResult> {
  checkResumeFile(options);
  checkOutputFolder(options.out);
  const plan = planLayout(options.mesh);
  checkBatchSplit(options.batchSize, plan);
  for (const line of describeLayout(plan, options.batchSize)) options.log(line);
  mkdirSync(options.out, { recursive: true });
  nb.random.seed(options.seed);

  const data = prepareData(options);
  options.log(`Data: ${data.train.count} training and ${data.test.count} test emails, vocabulary ${data.vocab.size}, sequence length ${options.seqLen}`);
  const baseline = runBaseline(data, options.seqLen);
  options.log(`Baseline (logistic regression on hashed bag of words): test accuracy ${percent(baseline.accuracy)}, F1 ${baseline.f1.toFixed(4)}`);

  const layout = await openLayout(plan);
  try {
    return { baseline, ...trainTransformer(options, data, layout, baseline.accuracy) };
  } finally {
    await closeLayout(layout);
  }
}

/** Everything the epoch loop carries from one epoch to the next. */
interface LoopState {
  model: SpamTransformer;
  optimizer: nb.nn.optim.AdamState;
  checkpoint: Checkpoint;
  readonly records: EpochRecord[];
  /** Every step's loss since the start of training (saved ones included), so its length is the global step. */
  readonly losses: number[];
}

/** The parts of a run that stay fixed over its epochs. */
interface Run {
  readonly options: TrainOptions;
  readonly data: Prepared;
  readonly layout: Layout;
  readonly step: Step;
  readonly schedule: (step: number) => number;
  readonly stepsPerEpoch: number;
}

/** Builds the model and its optimizer state, from the checkpoint to resume from when there is one. */
function startState(options: TrainOptions, data: Prepared): LoopState {
  const config: SpamModelConfig = { ...options, vocabSize: data.vocab.size };
  const model = new SpamTransformer(config);
  model.train();
  const numParams = model.numParameters();
  options.log(`Transformer: ${options.numLayers} layers, d_model ${options.dModel}, ${options.numHeads} heads, ${numParams} parameters (${(numParams * 4 / 2 ** 20).toFixed(2)} MiB in float32)`);

  const optimizer = nb.nn.optim.adamwInit(model);
  const checkpoint: Checkpoint = {
    config: resumeConfig(options, data.vocab.size),
    epoch: 0,
    step: 0,
    params: {},
    optimizer,
    dataOrderState: options.seed,
    randomState: nb.random.getState(),
    records: [],
    stepLosses: [],
    meshShape: [...options.mesh],
  };
  const fromPath = resumePath(options);
  if (fromPath === undefined) return { model, optimizer, checkpoint, records: [], losses: [] };

  const saved = loadCheckpoint(fromPath, options.out);
  checkResumeConfig(saved.config, checkpoint.config, fromPath);
  model.loadStateDict(saved.params);
  nb.random.setState(saved.randomState);
  options.log(`Resumed from ${fromPath} after epoch ${saved.epoch} (step ${saved.step})`);
  const note = meshChangeNote(saved.meshShape, options.mesh);
  if (note !== undefined) options.log(note);
  return { model, optimizer: saved.optimizer, checkpoint: saved, records: [...saved.records], losses: [...saved.stepLosses] };
}

function trainTransformer(options: TrainOptions, data: Prepared, layout: Layout, baselineAccuracy: number): Omit<TrainResult, "baseline"> {
  const stepsPerEpoch = Math.floor(data.train.count / options.batchSize);
  if (stepsPerEpoch === 0) throw new nb.ValueError(`--batch-size ${options.batchSize} is larger than the ${data.train.count} training emails; pass a smaller value`);
  const totalSteps = stepsPerEpoch * options.epochs;
  const schedule = nb.nn.optim.warmupCosineDecay({ peakLr: options.lr, warmupSteps: Math.max(1, Math.round(totalSteps * 0.1)), decaySteps: totalSteps + 1 });

  const state = startState(options, data);
  const firstStep = state.checkpoint.step;
  const run: Run = { options, data, layout, step: makeStep(), schedule, stepsPerEpoch };
  const forward = nb.compile((m: SpamTransformer, tokens: nb.Tensor, mask: nb.Tensor) => m.call(tokens, mask));
  const lastEpoch = Math.min(options.epochs, options.stopAfter ?? options.epochs);
  for (let epoch = state.checkpoint.epoch; epoch < lastEpoch; epoch++) {
    const { lossSum, examplesPerSecond, dataOrderState } = runEpoch(run, state, epoch);
    const testScores = scores(predict(forward, state.model, data.test, options.batchSize, layout), data.test.labels);
    const record: EpochRecord = { epoch: epoch + 1, trainLoss: lossSum / stepsPerEpoch, examplesPerSecond, ...testScores };
    state.records.push(record);
    options.log(
      `epoch ${epoch + 1}: train loss ${record.trainLoss.toFixed(4)}, test accuracy ${percent(record.accuracy)}, ` +
        `precision ${record.precision.toFixed(4)}, recall ${record.recall.toFixed(4)}, F1 ${record.f1.toFixed(4)}, ${examplesPerSecond.toFixed(0)} examples/s`,
    );
    saveEpoch(options, state, epoch + 1, dataOrderState, baselineAccuracy);
  }

  const final = state.records.at(-1);
  if (final !== undefined) {
    const verdict = final.accuracy > baselineAccuracy ? "above" : "not above";
    options.log(`Final test accuracy ${percent(final.accuracy)}, ${verdict} the baseline's ${percent(baselineAccuracy)}`);
  }
  return { records: state.records, stepLosses: state.losses.slice(firstStep), firstStep };
}

/** Trains one epoch in a seeded order; returns the summed loss, the throughput and the order generator's next state. */
function runEpoch(run: Run, state: LoopState, epoch: number): { lossSum: number; examplesPerSecond: number; dataOrderState: number } {
  const { options, data, layout, step, schedule, stepsPerEpoch } = run;
  const order = new SeededRandom(state.checkpoint.dataOrderState);
  const rows = order.shuffled(Array.from({ length: data.train.count }, (_, i) => i));
  const bar = new ProgressBar(`epoch ${epoch + 1}/${options.epochs}`, stepsPerEpoch);
  const started = performance.now();
  let lossSum = 0;
  for (let b = 0; b < stepsPerEpoch; b++) {
    const batch = placeBatch(makeBatch(data.train, rows.slice(b * options.batchSize, (b + 1) * options.batchSize)), layout);
    // The step is counted from 1, so the rate is never exactly 0 (an integral first value would compile a second program).
    const lr = schedule(state.losses.length + 1);
    let loss: nb.Tensor;
    [state.model, state.optimizer, loss] = step(state.model, state.optimizer, batch, lr);
    const value = loss.item();
    if (!Number.isFinite(value)) throw new nb.ValueError(`the training loss became ${value} at step ${state.losses.length}; lower --lr (now ${options.lr})`);
    state.losses.push(value);
    lossSum += value;
    bar.update(b + 1, value, ((b + 1) * options.batchSize) / ((performance.now() - started) / 1000));
  }
  bar.finish();
  const examplesPerSecond = (stepsPerEpoch * options.batchSize) / ((performance.now() - started) / 1000);
  return { lossSum, examplesPerSecond, dataOrderState: order.state };
}

/** Writes the epoch's checkpoint, metrics.csv and training.svg. */
function saveEpoch(options: TrainOptions, state: LoopState, epoch: number, dataOrderState: number, baselineAccuracy: number): void {
  state.checkpoint = {
    ...state.checkpoint,
    epoch,
    step: state.losses.length,
    params: state.model.stateDict(),
    optimizer: state.optimizer,
    dataOrderState,
    randomState: nb.random.getState(),
    records: [...state.records],
    stepLosses: [...state.losses],
    meshShape: [...options.mesh],
  };
  const path = saveCheckpoint(options.out, state.checkpoint);
  writeMetricsCsv(options.out, state.records);
  writePlot(options.out, state.losses, state.records, baselineAccuracy);
  options.log(`Saved ${path}`);
}

function percent(fraction: number): string {
  return `${(fraction * 100).toFixed(2)}%`;
}
