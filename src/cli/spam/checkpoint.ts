// Checkpoints of the training job: one nb.save file per finished epoch, the newest two kept.

import { existsSync, readdirSync, rmSync } from "node:fs";
import { join } from "node:path";
import * as nb from "nabla-ts";
import type { EpochRecord } from "./report.js";

/** Everything that a resumed run needs to continue exactly where the saved run stopped. */
export interface Checkpoint {
  /** The flags and sizes that must match on resume. */
  readonly config: Readonly<Record<string, number>>;
  /** Epochs finished; the next epoch to run has this index. */
  readonly epoch: number;
  /** Optimizer steps taken (the learning-rate schedule's position). */
  readonly step: number;
  readonly params: Record<string, nb.Tensor>;
  readonly optimizer: nb.nn.optim.AdamState;
  /** State of the data-order generator at the start of the next epoch. */
  readonly dataOrderState: number;
  /** nb.random's global generator state. */
  readonly randomState: [number, number];
  readonly records: EpochRecord[];
  readonly stepLosses: number[];
  /** Shape of the mesh the run trained on; absent in checkpoints written before data-parallel training. */
  readonly meshShape?: number[];
}

const pattern = /^checkpoint-epoch-(\d+)\.nb$/;
const checkpointsKept = 2;

export function checkpointPath(folder: string, epoch: number): string {
  return join(folder, `checkpoint-epoch-${String(epoch).padStart(3, "0")}.nb`);
}

/** Checkpoint files in `folder`, oldest first. */
export function listCheckpoints(folder: string): string[] {
  if (!existsSync(folder)) return [];
  return readdirSync(folder)
    .map((name) => ({ name, match: pattern.exec(name) }))
    .filter((f) => f.match !== null)
    .sort((a, b) => Number(a.match?.[1]) - Number(b.match?.[1]))
    .map((f) => join(folder, f.name));
}

/** Saves `checkpoint` atomically, then deletes all but the newest two checkpoint files. */
export function saveCheckpoint(folder: string, checkpoint: Checkpoint): string {
  const path = checkpointPath(folder, checkpoint.epoch);
  nb.save(checkpoint, path);
  const all = listCheckpoints(folder);
  for (const old of all.slice(0, Math.max(0, all.length - checkpointsKept))) rmSync(old);
  return path;
}

/**
 * Loads the checkpoint at `path`. A damaged file raises a SerializationError that names it and,
 * when there is one, the older checkpoint in the same folder that is still intact.
 */
export function loadCheckpoint(path: string, folder: string): Checkpoint {
  try {
    return checkShape(nb.load(path), path);
  } catch (error) {
    if (!(error instanceof nb.SerializationError)) throw error;
    const older = listCheckpoints(folder).filter((p) => p < path && isIntact(p)).pop();
    const advice = older === undefined
      ? "no older intact checkpoint exists in this folder; start without --resume"
      : `the previous checkpoint ${older} is intact and was kept; resume from it with --resume=${older}`;
    throw new nb.SerializationError(path, `cannot resume from this checkpoint (${error.message}); ${advice}`);
  }
}

function isIntact(path: string): boolean {
  try {
    nb.load(path);
    return true;
  } catch {
    return false;
  }
}

function checkShape(value: unknown, path: string): Checkpoint {
  const fields = ["config", "epoch", "step", "params", "optimizer", "dataOrderState", "randomState", "records", "stepLosses"];
  const missing = typeof value === "object" && value !== null ? fields.filter((f) => !(f in value)) : fields;
  if (missing.length > 0) throw new nb.SerializationError(path, `the file is not a training checkpoint (missing ${missing.join(", ")})`);
  return value as Checkpoint;
}
