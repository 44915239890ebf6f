// The WebAssembly executor: lowers a schedule once, plans its memory, then runs it on the device.

import { installExecutor, type ExecutionPlan, type Executor, type PlanOptions } from "../../core/executor.js";
import type { Node } from "../../core/node.js";
import type { Schedule } from "../../core/schedule.js";
import { sizeOf } from "../../core/shape.js";
import { debugLog } from "../../runtime/debug.js";
import { IndexError, InternalError, ValueError } from "../../runtime/errors.js";
import { instantiate } from "../../runtime/wasm/kernel.js";
import { outOfRangeMessage } from "../../runtime/wasm/layout/indexing.js";
import { DeviceMemory } from "../../runtime/device/memory.js";
import { itemSize, type Storage } from "../../runtime/storage.js";
import type { Value } from "./builder.js";
import { lowerSchedule } from "./lower.js";
import { planMemory } from "./memory-plan.js";
import type { BufferRef, KernelStep, Step } from "./steps.js";

let device: DeviceMemory | undefined;
let capacityBytes: number | undefined;
let capacitySource = "NABLA_DEVICE_BYTES";

const maxCapacityBytes = 2 ** 32;

/** Checks a requested device capacity: a whole number of bytes in [65536, 4 GiB]. */
function checkCapacity(value: number | undefined, source: string): number | undefined {
  if (value === undefined) return undefined;
  if (!Number.isInteger(value) || value < 65536 || value > maxCapacityBytes) {
    throw new ValueError(`${source}: capacityBytes must be a whole number of bytes from 65536 (one page) to ${maxCapacityBytes} (4 GiB), got ${value}`);
  }
  return value;
}

/** Returns the single-device memory that eager and compiled programs run in, creating it on first use. */
export function defaultDevice(): DeviceMemory {
  if (device === undefined) {
    const fromEnvironment = process.env.NABLA_DEVICE_BYTES;
    const requested = capacityBytes ?? (fromEnvironment === undefined || fromEnvironment === "" ? undefined : checkCapacity(Number(fromEnvironment), capacitySource));
    device = new DeviceMemory({ device: "wasm:0", capacityBytes: requested });
  }
  return device;
}

export interface DeviceOptions {
  /** Most bytes the device memory may grow to (default 4 GiB, the wasm32 limit; also NABLA_DEVICE_BYTES). */
  readonly capacityBytes?: number;
}

/** Replaces the device memory with one of the given capacity; tensors are unaffected, since they live on the host between programs. */
export function configureDevice(options: DeviceOptions): void {
  capacityBytes = checkCapacity(options.capacityBytes, "configureDevice");
  capacitySource = "configureDevice";
  device = undefined;
}

/** Bytes the device memory has in use, has committed, and may grow to. */
export function deviceMemoryStats(): { bytesInUse: number; bytesCommitted: number; capacityBytes: number } {
  const memory = defaultDevice();
  return { bytesInUse: memory.bytesInUse, bytesCommitted: memory.bytesCommitted, capacityBytes: memory.capacityBytes };
}

/**
 * Launches per kernel label ("matmul+bias+relu", "softmax", ...), with reference steps counted as
 * "reference <primitive>". The counts start with the process, so tests compare them before and after a run.
 */
export const launchCounts = new Map<string, number>();

function countLaunch(label: string): void {
  launchCounts.set(label, (launchCounts.get(label) ?? 0) + 1);
}

function launchKernel(step: KernelStep, memory: WebAssembly.Memory, address: (ref: BufferRef) => number): void {
  const run = instantiate(step.kernel, memory).exports.run as (...args: number[]) => number | undefined;
  const status = run(...step.args.map((arg) => (typeof arg === "number" ? arg : address(arg))));
  const check = step.indexCheck;
  if (check === undefined || status === 0 || status === undefined) return;
  const bad = new Int32Array(memory.buffer, address(check.indices) + 4 * (status - 1), 1)[0];
  throw new IndexError(outOfRangeMessage(check.op, bad, status - 1, check.bound));
}

function runStep(step: Step, memory: DeviceMemory, address: (ref: BufferRef) => number, inputs: readonly Storage[]): void {
  switch (step.kind) {
    case "upload":
      if (inputs[step.input].length > 0) memory.write(address(step.target), inputs[step.input]);
      return;
    case "kernel":
      countLaunch(step.label);
      launchKernel(step, memory.memory, address);
      return;
    case "reference": {
      countLaunch(`reference ${step.label}`);
      const views = step.inputs.map(({ ref, length }) => memory.view(ref.dtype, address(ref), length));
      const result = step.run(views);
      if (result.length > 0) memory.write(address(step.target), result);
      return;
    }
    case "collective":
      throw new InternalError(`a ${step.spec.kind} collective reached the single-device executor; only mesh programs contain collectives`);
    default:
      return step satisfies never;
  }
}

function planSchedule(schedule: Schedule, requested: readonly Node[], options: PlanOptions = {}): ExecutionPlan {
  const boundaryIndex = new Map(schedule.boundary.map((n, i) => [n, i]));
  const computed = requested.filter((n) => !boundaryIndex.has(n));
  const { builder, outputValues, materialized } = lowerSchedule(schedule, computed);
  const requestedSet = new Set(requested);
  const extras = options.keepMaterialized === true ? materialized.filter((i) => !requestedSet.has(schedule.order[i])) : [];
  const extraValues = extras.map((i) => builder.valueOf(schedule.order[i]) as Value & { kind: "buffer" });
  for (const value of extraValues) builder.buffers[value.buffer].lastStep = Infinity;
  const outputs = [...requested, ...extras.map((i) => schedule.order[i])];
  const values = [...outputValues, ...extraValues];
  const { offsets, arenaBytes } = planMemory(builder.buffers);
  const steps = builder.steps;
  debugLog(2, () => `wasm program: ${steps.filter((s) => s.kind !== "upload").length} launches, arena ${arenaBytes} bytes`);

  return {
    extras,
    run(inputs) {
      const memory = defaultDevice();
      const base = memory.alloc(arenaBytes);
      const address = (ref: BufferRef): number => base + offsets[ref.buffer] + ref.elementOffset * itemSize(ref.dtype);
      try {
        for (const step of steps) runStep(step, memory, address, inputs);
        let next = 0;
        return outputs.map((node) => {
          const input = boundaryIndex.get(node);
          if (input !== undefined) return inputs[input];
          const value = values[next++];
          return memory.read(node.dtype, address({ buffer: value.buffer, elementOffset: value.view.offset, dtype: node.dtype }), sizeOf(node.shape));
        });
      } finally {
        memory.free(base);
      }
    },
  };
}

export const wasmExecutor: Executor = { name: "wasm", plan: planSchedule };

installExecutor(wasmExecutor);
