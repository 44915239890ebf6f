// The options of the training job and their defaults, which `nabla-ts train`'s flags override.

import type { Email } from "./data.js";
import { defaultMeshShape } from "./mesh.js";

export interface TrainOptions {
  readonly epochs: number;
  readonly batchSize: number;
  readonly seqLen: number;
  /** Peak learning rate of the warm-up + cosine schedule. */
  readonly lr: number;
  readonly seed: number;
  /** Output folder for checkpoints, metrics.csv and training.svg. */
  readonly out: string;
  /** Shape of the data-parallel mesh; a one-device shape runs on the main thread. */
  readonly mesh: readonly number[];
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
  mesh: defaultMeshShape(),
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
