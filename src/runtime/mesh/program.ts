// Mesh programs: per-device lists of kernel launches and collective steps over buffer bindings.

import type { StorageDType } from "../storage.js";

/**
 * A buffer address in a device's memory: a fixed byte offset, or a binding of the run (an input, an
 * output or a temporary) plus a byte offset into it.
 */
export type Operand = number | { readonly binding: number; readonly offset?: number };

export type ReduceOp = "sum" | "max" | "min" | "mean";

/** Launches export `entry` of a kernel with i32 arguments (byte offsets and sizes). */
export interface KernelStep {
  readonly kind: "kernel";
  readonly kernel: string;
  readonly entry: string;
  readonly args: readonly Operand[];
  /** For kernels that return a status: nonzero means int32 element (status - 1) at `indices` is outside [0, bound). */
  readonly check?: IndexCheck;
}

export interface IndexCheck {
  /** The operation named in the error, such as "gather". */
  readonly op: string;
  readonly indices: Operand;
  readonly bound: number;
}

/**
 * Fields shared by every collective. `count` is the element count of one block: the whole buffer for
 * allReduce and broadcast, the input of allGather, the output of reduceScatter, one peer's block of
 * allToAll. Ranks are positions in the device's group along `axes` (see MeshTopology.groupOf).
 */
interface CollectiveFields {
  readonly axes: readonly string[];
  readonly dtype: StorageDType;
  readonly count: number;
  readonly input: Operand;
  readonly output: Operand;
}

/** out = op over the group of every device's input, rounded to `dtype` after each step in rank order. */
export interface AllReduceStep extends CollectiveFields {
  readonly kind: "allReduce";
  readonly op: ReduceOp;
}

/** out[rank s block] = input of rank s; the output holds group-size blocks. */
export interface AllGatherStep extends CollectiveFields {
  readonly kind: "allGather";
}

/** out = op over the group of block `rank` of every device's input of group-size blocks. */
export interface ReduceScatterStep extends CollectiveFields {
  readonly kind: "reduceScatter";
  readonly op: ReduceOp;
}

/** out[block s] = block `rank` of rank s's input; input and output hold group-size blocks. */
export interface AllToAllStep extends CollectiveFields {
  readonly kind: "allToAll";
}

/** out = input of rank `root` on every device of the group. */
export interface BroadcastStep extends CollectiveFields {
  readonly kind: "broadcast";
  readonly root: number;
}

/** out of rank `target` = input of rank `source` for each pair; ranks that no pair targets get zeros. */
export interface PermuteStep extends CollectiveFields {
  readonly kind: "permute";
  readonly pairs: readonly (readonly [source: number, target: number])[];
}

/** Fault injection for tests: throws an Error with `message` on this device. */
export interface ThrowStep {
  readonly kind: "throw";
  readonly message: string;
}

/** Fault injection for tests: blocks the worker for `ms` milliseconds, ignoring aborts. */
export interface SleepStep {
  readonly kind: "sleep";
  readonly ms: number;
}

/** Fault injection for tests: ends the worker thread with process.exit(code). */
export interface ExitStep {
  readonly kind: "exit";
  readonly code: number;
}

export type CollectiveStep = AllReduceStep | AllGatherStep | ReduceScatterStep | AllToAllStep | BroadcastStep | PermuteStep;
export type Step = KernelStep | CollectiveStep | ThrowStep | SleepStep | ExitStep;

/**
 * One device's part of a program. Binding indices run over the inputs first, then the outputs, then the
 * temporaries. The runtime allocates outputs and temporaries fresh for every run, so a failed run
 * changes no buffer that existed before it.
 */
export interface DeviceProgram {
  readonly inputs: number;
  /** Byte size of each output. */
  readonly outputs: readonly number[];
  /** Byte size of each temporary, freed after the run. */
  readonly temps: readonly number[];
  readonly steps: readonly Step[];
}

/** A kernel module a program launches, compiled on the main thread and posted to each worker once. */
export interface ProgramKernel {
  readonly key: string;
  readonly module: WebAssembly.Module;
}

export interface Program {
  /** Name used in errors and logs. */
  readonly name: string;
  /** One entry per mesh device, in device order. */
  readonly devices: readonly DeviceProgram[];
  readonly kernels?: readonly ProgramKernel[];
}

export function isCollective(step: Step): step is CollectiveStep {
  switch (step.kind) {
    case "allReduce":
    case "allGather":
    case "reduceScatter":
    case "allToAll":
    case "broadcast":
    case "permute":
      return true;
    case "kernel":
    case "throw":
    case "sleep":
    case "exit":
      return false;
    default:
      return step satisfies never;
  }
}

/** Number of bindings of a device program (inputs, outputs and temporaries). */
export function bindingCount(program: DeviceProgram): number {
  return program.inputs + program.outputs.length + program.temps.length;
}
