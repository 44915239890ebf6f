// Resuming the training job: which checkpoint to read and the check that it matches this run's flags.

import * as nb from "nabla-ts";
import { listCheckpoints } from "./checkpoint.js";
import type { TrainOptions } from "./options.js";

/** The values a checkpoint must share with the flags of a resumed run, by flag name. */
export function resumeConfig(options: TrainOptions, vocabSize: number): Record<string, number> {
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

export function checkResumeConfig(saved: Readonly<Record<string, number>>, current: Record<string, number>, path: string): void {
  for (const [name, value] of Object.entries(current)) {
    if (saved[name] !== value) {
      throw new nb.ValueError(`${name} is ${value}, but the checkpoint ${path} was saved with ${saved[name]}; resume with the same value, or train from scratch in another --out folder`);
    }
  }
}

export function resumePath(options: TrainOptions): string | undefined {
  if (options.resume === false) return undefined;
  if (typeof options.resume === "string") return options.resume;
  const newest = listCheckpoints(options.out).pop();
  if (newest === undefined) throw new nb.ValueError(`--resume: no checkpoint-epoch-*.nb file in ${options.out}; check --out, or start without --resume`);
  return newest;
}

/**
 * Returns the note to print when a run resumes on another mesh shape. The run continues, because the
 * step computes the same function, but sums run in another order, so the losses can differ in the last bits.
 */
export function meshChangeNote(saved: readonly number[] | undefined, current: readonly number[]): string | undefined {
  if (saved === undefined || saved.join(",") === current.join(",")) return undefined;
  return `NOTE: the checkpoint was trained on --mesh ${saved.join(",")} and this run uses --mesh ${current.join(",")}; ` +
    "losses can differ from an uninterrupted run in the last digits, because sums over the batch run in another order";
}
