// Collectives over shared device memories, run by each device's executor on its worker thread.
//
// Every collective reads its peers' memories directly. It opens with a barrier (peers' inputs are
// ready) and closes with one (no peer still reads this device's buffers when later steps overwrite
// them). Reductions combine ranks in rank order 0, 1, ..., p-1 and round to the dtype after each
// combine, and each element is computed by exactly one device or in the same order on all of them, so
// results are bitwise identical on every device and in every run.

import { itemSize } from "../storage.js";
import type { Barrier } from "./barrier.js";
import type { AllReduceStep, CollectiveStep, ReduceOp, ReduceScatterStep } from "./program.js";
import type { DeviceGroup } from "./topology.js";
import { elementIndex, type MemoryViews, type NumericArray } from "./views.js";

/** All-reduces of at least this many bytes use the bandwidth-optimised reduce-then-gather path. */
export const largeAllReduceBytes = 64 * 1024;

/** Slices of the reduce-then-gather path start on multiples of this many elements (a 64-byte line for float32). */
const sliceAlignment = 16;

export interface CollectiveContext {
  /** Views of every mesh device's memory, by device number. */
  readonly views: readonly MemoryViews[];
  readonly group: DeviceGroup;
  readonly barrier: Barrier;
  /** "program P device D step S", for errors. */
  readonly where: string;
}

/** Runs `step` with `input` and `output` resolved to byte offsets; the same offsets apply on every device. */
export function runCollective(step: CollectiveStep, input: number, output: number, context: CollectiveContext): void {
  const { barrier, group } = context;
  barrier.arrive(group.members);
  switch (step.kind) {
    case "allReduce":
      allReduce(step, input, output, context);
      break;
    case "reduceScatter":
      reduceScatter(step, input, output, context);
      break;
    case "allGather":
      for (let s = 0; s < group.members.length; s++) copyBlock(context, group.members[s], input, output + s * blockBytes(step), blockBytes(step));
      break;
    case "allToAll":
      for (let s = 0; s < group.members.length; s++) copyBlock(context, group.members[s], input + group.rank * blockBytes(step), output + s * blockBytes(step), blockBytes(step));
      break;
    case "broadcast":
      copyBlock(context, group.members[step.root], input, output, blockBytes(step));
      break;
    case "permute":
      permute(step.pairs, input, output, blockBytes(step), context);
      break;
    default:
      step satisfies never;
  }
  barrier.arrive(group.members);
}

function blockBytes(step: CollectiveStep): number {
  return step.count * itemSize(step.dtype);
}

/** Copies `bytes` from `source`'s memory at `from` to this device's memory at `to`. */
function copyBlock(context: CollectiveContext, source: number, from: number, to: number, bytes: number): void {
  if (bytes === 0) return;
  const self = context.group.members[context.group.rank];
  context.views[self].bytes.set(context.views[source].bytes.subarray(from, from + bytes), to);
}

function permute(pairs: readonly (readonly [number, number])[], input: number, output: number, bytes: number, context: CollectiveContext): void {
  const pair = pairs.find(([, target]) => target === context.group.rank);
  if (pair !== undefined) {
    copyBlock(context, context.group.members[pair[0]], input, output, bytes);
    return;
  }
  const self = context.group.members[context.group.rank];
  context.views[self].bytes.fill(0, output, output + bytes);
}

/**
 * Small all-reduces reduce the whole buffer on every device (one barrier pair, p reads per element).
 * Large ones split the buffer into one slice per rank: each device reduces its slice from every peer,
 * then after a barrier copies the other slices from their owners, so each element is read p times in
 * total instead of p^2 times.
 */
function allReduce(step: AllReduceStep, input: number, output: number, context: CollectiveContext): void {
  const { group, barrier } = context;
  const p = group.members.length;
  const n = step.count;
  if (p === 1 || n * itemSize(step.dtype) < largeAllReduceBytes) {
    reduceRange(step, input, output, 0, n, context);
    return;
  }
  const slice = Math.ceil(n / p / sliceAlignment) * sliceAlignment;
  const start = Math.min(n, group.rank * slice);
  reduceRange(step, input, output, start, Math.min(n, start + slice) - start, context);
  barrier.arrive(group.members);
  const size = itemSize(step.dtype);
  for (let s = 0; s < p; s++) {
    if (s === group.rank) continue;
    const from = Math.min(n, s * slice);
    const to = Math.min(n, from + slice);
    copyBlock(context, group.members[s], output + from * size, output + from * size, (to - from) * size);
  }
}

function reduceScatter(step: ReduceScatterStep, input: number, output: number, context: CollectiveContext): void {
  const offset = context.group.rank * step.count * itemSize(step.dtype);
  reduceRange(step, input + offset, output, 0, step.count, context);
}

/** Writes elements [start, start + n) of the reduction of every rank's input into this device's output. */
function reduceRange(step: AllReduceStep | ReduceScatterStep, input: number, output: number, start: number, n: number, context: CollectiveContext): void {
  if (n === 0) return;
  const { group, views } = context;
  const dtype = step.dtype;
  const inStart = elementIndex(input, dtype, context.where) + start;
  const outStart = elementIndex(output, dtype, context.where) + start;
  const self = group.members[group.rank];
  const out = views[self].array(dtype) as NumericArray;
  const sources = group.members.map((member) => views[member].array(dtype) as NumericArray);
  if (sources.length === 1) {
    out.set(sources[0].subarray(inStart, inStart + n), outStart);
  } else {
    combine(step.op, out, outStart, sources[0], sources[1], inStart, n);
    for (let q = 2; q < sources.length; q++) combine(step.op, out, outStart, out, sources[q], inStart, n, outStart);
  }
  if (step.op === "mean") divide(out, outStart, n, sources.length);
}

/** out[o + i] = a[aStart + i] op b[inStart + i]; `aStart` defaults to `inStart`. */
function combine(op: ReduceOp, out: NumericArray, o: number, a: NumericArray, b: NumericArray, inStart: number, n: number, aStart = inStart): void {
  switch (op) {
    case "sum":
    case "mean":
      for (let i = 0; i < n; i++) out[o + i] = a[aStart + i] + b[inStart + i];
      return;
    case "max":
      for (let i = 0; i < n; i++) out[o + i] = Math.max(a[aStart + i], b[inStart + i]);
      return;
    case "min":
      for (let i = 0; i < n; i++) out[o + i] = Math.min(a[aStart + i], b[inStart + i]);
      return;
    default:
      op satisfies never;
  }
}

function divide(out: NumericArray, o: number, n: number, divisor: number): void {
  for (let i = 0; i < n; i++) out[o + i] = out[o + i] / divisor;
}
