// Collectives over shared device memories, run by each device's executor on its worker thread.
//
// Every collective reads or writes its peers' memories directly. Buffers sit at different offsets on
// different devices, so each device publishes its input and output offsets in the control block before
// the opening barrier, and peers read them after it. The closing barrier guarantees that no peer still
// touches this device's buffers (or its published offsets) when later steps reuse them.
//
// Collectives whose input fits a mailbox take a latency path with a single barrier: each device copies
// its input into its own mailbox, arrives, and then reads only peers' mailboxes and writes only its own
// output. Mailboxes alternate between two per device, and a device can reuse a mailbox two collectives
// later only after every peer arrived at the collective in between, which a peer does only after it
// finished reading. So no closing barrier is needed.
//
// Reductions combine ranks in rank order 0, 1, ..., p-1 and round to the dtype after each combine. Each
// element is computed once and then copied, or computed in the same order on every device. Results are
// therefore bitwise identical on every device and in every run.

import { itemSize } from "../storage.js";
import type { Barrier } from "./barrier.js";
import { Slot, type ControlBlock } from "./control.js";
import { collectiveSizes } from "./builders.js";
import type { AllReduceStep, CollectiveStep, ReduceOp, ReduceScatterStep } from "./program.js";
import { scratchLayout, type Reducer } from "./reducer.js";
import type { DeviceGroup } from "./topology.js";
import { elementIndex, type MemoryViews, type NumericArray } from "./views.js";

/** All-reduces of at least this many bytes use the bandwidth-optimised sliced path. */
export const largeAllReduceBytes = 64 * 1024;

/** Slices of the sliced path start on multiples of this many elements (a 64-byte line for float32). */
const sliceAlignment = 16;

export interface CollectiveContext {
  /** Views of every mesh device's memory, by device number. */
  readonly views: readonly MemoryViews[];
  readonly control: ControlBlock;
  readonly group: DeviceGroup;
  readonly barrier: Barrier;
  readonly reducer: Reducer;
  /** Byte offset of `device`'s mailbox for this collective, in that device's memory. */
  readonly mailbox: (device: number) => number;
  /** "program P device D step S", for errors. */
  readonly where: string;
}

/** A group member's buffers of the current collective, as byte offsets in its own memory. */
interface Buffers {
  readonly device: number;
  readonly input: number;
  readonly output: number;
}

/** Runs `step` with this device's `input` and `output` resolved to byte offsets in its memory. */
export function runCollective(step: CollectiveStep, input: number, output: number, context: CollectiveContext): void {
  const { barrier, group } = context;
  const self = group.members[group.rank];
  const inputBytes = collectiveSizes(step, group.members.length).input * itemSize(step.dtype);
  const viaMailbox = inputBytes <= scratchLayout.mailboxBytes;
  const ranks = viaMailbox ? exchangeByMailbox(input, output, inputBytes, context) : exchangeOffsets(input, output, context);
  const block = step.count * itemSize(step.dtype);
  const me = ranks[group.rank];
  switch (step.kind) {
    case "allReduce":
      allReduce(step, ranks, context);
      break;
    case "reduceScatter":
      reduceScatter(step, ranks, context);
      break;
    case "allGather":
      ranks.forEach((source, s) => copy(context, source.device, source.input, self, me.output + s * block, block));
      break;
    case "allToAll":
      ranks.forEach((source, s) => copy(context, source.device, source.input + group.rank * block, self, me.output + s * block, block));
      break;
    case "broadcast":
      copy(context, ranks[step.root].device, ranks[step.root].input, self, me.output, block);
      break;
    case "permute": {
      const pair = step.pairs.find(([, target]) => target === group.rank);
      if (pair === undefined) context.views[self].bytes.fill(0, me.output, me.output + block);
      else copy(context, ranks[pair[0]].device, ranks[pair[0]].input, self, me.output, block);
      break;
    }
    default:
      step satisfies never;
  }
  if (!viaMailbox) barrier.arrive(group.members);
}

/** Publishes this device's offsets, waits for the group and returns every member's buffers. */
function exchangeOffsets(input: number, output: number, context: CollectiveContext): Buffers[] {
  const { control, group } = context;
  const self = group.members[group.rank];
  control.store(self, Slot.Input, input);
  control.store(self, Slot.Output, output);
  context.barrier.arrive(group.members);
  return group.members.map((device) => ({ device, input: control.load(device, Slot.Input), output: control.load(device, Slot.Output) }));
}

/** Copies this device's input into its mailbox, waits for the group and returns buffers that read peers' mailboxes. */
function exchangeByMailbox(input: number, output: number, inputBytes: number, context: CollectiveContext): Buffers[] {
  const { group } = context;
  const self = group.members[group.rank];
  copy(context, self, input, self, context.mailbox(self), inputBytes);
  context.barrier.arrive(group.members);
  // Peers' outputs are never written on this path, so their output offsets are unknown (-1).
  return group.members.map((device) => (device === self ? { device, input, output } : { device, input: context.mailbox(device), output: -1 }));
}

/** Copies `bytes` from `source`'s memory at `from` to `target`'s memory at `to`. */
function copy(context: CollectiveContext, source: number, from: number, target: number, to: number, bytes: number): void {
  if (bytes === 0) return;
  context.views[target].bytes.set(context.views[source].bytes.subarray(from, from + bytes), to);
}

/**
 * Small all-reduces reduce the whole buffer on every device. Large ones give each rank one slice, which
 * the rank reduces from every peer's input and writes into every member's output. Each input element is
 * then read once and each output element written once, with no extra barrier.
 */
function allReduce(step: AllReduceStep, ranks: readonly Buffers[], context: CollectiveContext): void {
  const { group } = context;
  const p = ranks.length;
  const n = step.count;
  const me = ranks[group.rank];
  const outputsKnown = ranks.every((rank) => rank.output >= 0);
  if (p === 1 || n * itemSize(step.dtype) < largeAllReduceBytes || !outputsKnown) {
    reduceRange(step, ranks, 0, me.output, 0, n, context, []);
    return;
  }
  const slice = Math.ceil(n / p / sliceAlignment) * sliceAlignment;
  const start = Math.min(n, group.rank * slice);
  const peers = ranks.filter((_, r) => r !== group.rank);
  reduceRange(step, ranks, 0, me.output, start, Math.min(n, start + slice) - start, context, peers);
}

function reduceScatter(step: ReduceScatterStep, ranks: readonly Buffers[], context: CollectiveContext): void {
  const me = ranks[context.group.rank];
  reduceRange(step, ranks, context.group.rank * step.count * itemSize(step.dtype), me.output, 0, step.count, context, []);
}

/**
 * Writes elements [start, start + n) of the reduction of every rank's input into this device's output.
 * Inputs are read at each rank's input offset plus `shift` bytes. Each finished chunk is also copied into
 * the outputs of `alsoTo` while it is still in cache. Peers' data is staged chunk by chunk in the
 * device's scratch area, where the SIMD kernels combine it. Ops without a kernel use typed-array loops,
 * which round the same way.
 */
function reduceRange(step: AllReduceStep | ReduceScatterStep, ranks: readonly Buffers[], shift: number, output: number, start: number, n: number, context: CollectiveContext, alsoTo: readonly Buffers[]): void {
  if (n === 0) return;
  const { reducer } = context;
  const self = context.group.members[context.group.rank];
  const size = itemSize(step.dtype);
  const combineKernel = reducer.combine(step.op, step.dtype);
  const divideKernel = step.op === "mean" ? reducer.divide(step.dtype) : undefined;
  for (const rank of ranks) elementIndex(rank.input + shift, step.dtype, context.where);
  elementIndex(output, step.dtype, context.where);
  const useLoops = ranks.length === 1 || combineKernel === undefined || (step.op === "mean" && divideKernel === undefined);
  const chunkBytes = useLoops ? n * size : reducer.chunkBytes;
  for (let at = start * size; at < (start + n) * size; at += chunkBytes) {
    const bytes = Math.min(chunkBytes, (start + n) * size - at);
    const to = output + at;
    if (useLoops) {
      reduceWithLoops(step, ranks.map((rank) => ({ device: rank.device, offset: rank.input + shift + at })), self, to, bytes / size, context);
    } else {
      const from = (r: number) => ranks[r].input + shift + at;
      combineKernel(to, stage(context, ranks[0].device, from(0), bytes, 0), stage(context, ranks[1].device, from(1), bytes, 1), bytes);
      for (let r = 2; r < ranks.length; r++) combineKernel(to, to, stage(context, ranks[r].device, from(r), bytes, 0), bytes);
      divideKernel?.(to, bytes, ranks.length);
    }
    for (const peer of alsoTo) copy(context, self, to, peer.device, peer.output + at, bytes);
  }
}

/** Returns where `bytes` of `source`'s memory at `from` can be read in this device's memory, copying them to scratch slot `slot` if needed. */
function stage(context: CollectiveContext, source: number, from: number, bytes: number, slot: 0 | 1): number {
  const self = context.group.members[context.group.rank];
  if (source === self) return from;
  const scratch = context.reducer.scratch[slot];
  copy(context, source, from, self, scratch, bytes);
  return scratch;
}

/** Reduces `n` elements from each source into this device's memory at byte `to`, with typed-array loops. */
function reduceWithLoops(step: AllReduceStep | ReduceScatterStep, sources: readonly { device: number; offset: number }[], self: number, to: number, n: number, context: CollectiveContext): void {
  const dtype = step.dtype;
  const out = context.views[self].array(dtype) as NumericArray;
  const outStart = to / itemSize(dtype);
  const arrays = sources.map((source) => context.views[source.device].array(dtype) as NumericArray);
  const starts = sources.map((source) => source.offset / itemSize(dtype));
  if (arrays.length === 1) {
    out.set(arrays[0].subarray(starts[0], starts[0] + n), outStart);
  } else {
    combine(step.op, out, outStart, arrays[0], starts[0], arrays[1], starts[1], n);
    for (let q = 2; q < arrays.length; q++) combine(step.op, out, outStart, out, outStart, arrays[q], starts[q], n);
  }
  if (step.op === "mean") divide(out, outStart, n, arrays.length);
}

/** out[o + i] = a[aStart + i] op b[bStart + i]. */
function combine(op: ReduceOp, out: NumericArray, o: number, a: NumericArray, aStart: number, b: NumericArray, bStart: number, n: number): void {
  switch (op) {
    case "sum":
    case "mean":
      for (let i = 0; i < n; i++) out[o + i] = a[aStart + i] + b[bStart + i];
      return;
    case "max":
      for (let i = 0; i < n; i++) out[o + i] = Math.max(a[aStart + i], b[bStart + i]);
      return;
    case "min":
      for (let i = 0; i < n; i++) out[o + i] = Math.min(a[aStart + i], b[bStart + i]);
      return;
    default:
      op satisfies never;
  }
}

function divide(out: NumericArray, o: number, n: number, divisor: number): void {
  for (let i = 0; i < n; i++) out[o + i] = out[o + i] / divisor;
}
