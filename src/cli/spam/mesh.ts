// The data-parallel layout of the training job: which mesh it runs on, how each batch is split over
// the devices, and the lines that describe both at start.

import { availableParallelism } from "node:os";
import * as nb from "nabla-ts";
import { UsageError } from "../args.js";
import type { Batch } from "./data.js";

export const meshAccepted = "device counts per mesh axis, positive integers joined by x or a comma (for example 1, 2, 2x2 or 2,2)";

/** Parses a `--mesh` value such as "2", "2x2" or "2,2" into a mesh shape; "x" is the form `bench` also takes. */
export function parseMeshShape(raw: string): number[] {
  const shape = raw.split(/[x,]/).map((part) => (/^\s*\d+\s*$/.test(part) ? Number(part) : Number.NaN));
  if (shape.some((n) => !Number.isSafeInteger(n) || n < 1)) throw new UsageError(`--mesh ${raw} is invalid; accepted values: ${meshAccepted}`);
  return shape;
}

/** Returns one device per core on one axis, as `new nb.DeviceMesh()` chooses. */
export function defaultMeshShape(): number[] {
  return [availableParallelism()];
}

/**
 * The devices the job runs on: a worker mesh, or the main thread's single device for a one-device
 * shape. A mesh of one worker would compute the same step and only add copies to and from the worker.
 */
export interface Layout {
  readonly shape: readonly number[];
  /** "data" for the first mesh axis, then "data1", "data2", ...: every axis splits the batch. */
  readonly axisNames: readonly string[];
  /** Spec of the batch inputs: dimension 0 split over every mesh axis, so each device gets its own rows. */
  readonly batchSpec: nb.ShardingSpec;
  /** The running mesh; undefined on one device and until openLayout started it. */
  readonly mesh?: nb.DeviceMesh;
}

export function deviceCount(shape: readonly number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

/** Returns the layout of `shape` without starting workers, so that bad flags fail before the data loads. */
export function planLayout(shape: readonly number[]): Layout {
  const axisNames = shape.map((_, axis) => (axis === 0 ? "data" : `data${axis}`));
  return { shape, axisNames, batchSpec: nb.P(axisNames) };
}

/** Starts the mesh of a multi-device layout and waits for its workers; stop it with closeLayout. */
export async function openLayout(plan: Layout): Promise<Layout> {
  if (deviceCount(plan.shape) === 1) return plan;
  return { ...plan, mesh: await nb.DeviceMesh.create(plan.shape, plan.axisNames) };
}

export async function closeLayout(layout: Layout): Promise<void> {
  await layout.mesh?.dispose();
}

/** Places a batch on the layout: tokens, mask and labels split by rows; on one device it stays as it is. */
export function placeBatch(batch: Batch, layout: Layout): Batch {
  const { mesh, batchSpec } = layout;
  if (mesh === undefined) return batch;
  return {
    tokens: nb.shard(batch.tokens, mesh, batchSpec),
    paddingMask: nb.shard(batch.paddingMask, mesh, batchSpec),
    labels: nb.shard(batch.labels, mesh, batchSpec),
  };
}

/** Rows of a batch of `rows` that each device gets, in device order (torch.chunk-style: ceil-sized chunks first). */
export function rowsPerDevice(rows: number, layout: Layout): number[] {
  return Array.from({ length: deviceCount(layout.shape) }, (_, device) => nb.shardShape([rows], layout.batchSpec, layout, device)[0]);
}

/** Rejects a batch size that leaves a device without rows, which would idle that device on every step. */
export function checkBatchSplit(batchSize: number, layout: Layout): void {
  const counts = rowsPerDevice(batchSize, layout);
  const idle = counts.findIndex((n) => n === 0);
  if (idle < 0) return;
  const devices = counts.length;
  const lower = Math.max(devices, Math.floor(batchSize / devices) * devices);
  throw new nb.ValueError(
    `--batch-size ${batchSize} leaves device ${idle} of --mesh ${layout.shape.join(",")} without emails (split ${counts.join(" + ")}); ` +
      `pass a multiple of ${devices} such as ${lower} or ${lower + devices}, or a smaller --mesh`,
  );
}

/** Describes the mesh and the batch split for the start of the run. */
export function describeLayout(layout: Layout, batchSize: number): string[] {
  const { shape, axisNames } = layout;
  const devices = deviceCount(shape);
  if (devices === 1) return [`Mesh [${shape.join(", ")}]: one device on the main thread, compiled; ${batchSize} emails per step`];
  const cores = availableParallelism();
  const counts = rowsPerDevice(batchSize, layout);
  const even = counts.every((n) => n === counts[0]);
  const lines = [
    `Mesh [${shape.join(", ")}] on ${axisNames.length === 1 ? "axis" : "axes"} ${axisNames.map((a) => `"${a}"`).join(", ")}: ${devices} devices (worker threads) on ${cores} cores, data-parallel, compiled`,
    `Batch: ${batchSize} emails per step, split ${counts.join(" + ")} over the devices${even ? "" : " (uneven)"}; ` +
      "parameters and optimizer state are replicated",
  ];
  if (devices > cores) lines.push(`NOTE: ${devices} devices share ${cores} cores, so a step can be slower than on --mesh ${cores}`);
  return lines;
}
