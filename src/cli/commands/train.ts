// `nabla-ts train`: the spam classifier job with its flags.

import { type FlagTable, formatFlags, parseFlags } from "../args.js";
import { train, type TrainResult } from "../spam/job.js";
import { meshAccepted, parseMeshShape } from "../spam/mesh.js";
import { defaultTrainOptions, type TrainOptions } from "../spam/options.js";

const positive = (v: number): boolean => v > 0;
const d = defaultTrainOptions;

export const trainFlags: FlagTable = {
  epochs: { kind: "integer", accepted: "a positive integer", help: `training epochs (default ${d.epochs})`, check: positive },
  "batch-size": { kind: "integer", accepted: "a positive integer", help: `emails per step (default ${d.batchSize})`, check: positive },
  "seq-len": { kind: "integer", accepted: "an integer from 8 to 1024", help: `tokens per email after truncation and padding (default ${d.seqLen})`, check: (v) => v >= 8 && v <= 1024 },
  lr: { kind: "number", accepted: "a positive number", help: `peak learning rate of the warm-up + cosine schedule (default ${d.lr})`, check: positive },
  seed: { kind: "integer", accepted: "an integer from 0 to 4294967295", help: `seed of the split, the initialisation and the data order (default ${d.seed})`, check: (v) => v >= 0 && v <= 0xffffffff },
  out: { kind: "string", accepted: "a folder path", help: `folder for checkpoints, metrics.csv and training.svg (default ${d.out})` },
  mesh: { kind: "string", hint: "shape", accepted: meshAccepted, help: `shape of the data-parallel mesh, for example 2, 2x2 or 2,2; 1 runs on the main thread (default ${d.mesh.join(",")}: one device per core)` },
  resume: { kind: "optional-string", accepted: "no value, or =FILE", help: "continue from the newest checkpoint in --out, or from FILE" },
  limit: { kind: "integer", accepted: "a non-negative integer", help: "use only this many training emails and a quarter as many test emails (default 0: all)", check: (v) => v >= 0 },
};

export const trainHelp = `Usage: nabla-ts train [flags]

Trains a Transformer spam classifier on the SpamAssassin corpus (6,046 emails, split 80/20 by email,
stratified by corpus group), after a logistic-regression baseline on a hashed bag of words. The
compiled step runs data-parallel on a mesh of worker threads: each batch is split by rows over the
devices, and parameters and optimizer state are replicated. Prints test accuracy, precision, recall
and F1 after each epoch and writes a checkpoint, metrics.csv and training.svg into --out.

Flags:
${formatFlags(trainFlags)}`;

/** Parses the flags of `train`; returns undefined after printing the help. */
export function trainOptionsFrom(argv: readonly string[], base: Partial<TrainOptions> = {}): TrainOptions | undefined {
  const flags = parseFlags("train", argv, trainFlags);
  if (flags.help === true) {
    console.log(trainHelp);
    return undefined;
  }
  const pick = <T>(name: string, fallback: T): T => (flags[name] === undefined ? fallback : (flags[name] as T));
  const options = { ...defaultTrainOptions, ...base };
  return {
    ...options,
    epochs: pick("epochs", options.epochs),
    batchSize: pick("batch-size", options.batchSize),
    seqLen: pick("seq-len", options.seqLen),
    lr: pick("lr", options.lr),
    seed: pick("seed", options.seed),
    out: pick("out", options.out),
    mesh: flags.mesh === undefined ? options.mesh : parseMeshShape(flags.mesh as string),
    resume: pick("resume", options.resume),
    limit: pick("limit", options.limit),
  };
}

export async function runTrain(argv: readonly string[]): Promise<TrainResult | undefined> {
  const options = trainOptionsFrom(argv);
  return options === undefined ? undefined : train(options);
}
