// Main-thread input of a device executor: the task that starts it and the messages on its port.

import type { MessagePort } from "node:worker_threads";
import { Packr } from "msgpackr";
import type { ControlLayout } from "./control.js";
import type { DeviceProgram } from "./program.js";

/** The piscina task that starts one device's executor; it runs until the mesh stops it. */
export interface ExecutorTask {
  readonly device: number;
  /** Counts the executors started for this device; written to the Ready slot once the executor runs. */
  readonly generation: number;
  readonly shape: readonly number[];
  readonly axisNames: readonly string[];
  /** Every device's memory, by device number, because collectives read peers' memories. */
  readonly memories: readonly WebAssembly.Memory[];
  readonly control: SharedArrayBuffer;
  readonly layout: ControlLayout;
  /** Receives ExecutorMessages; read with receiveMessageOnPort, since the executor never yields. */
  readonly port: MessagePort;
  /** Milliseconds an idle executor sleeps on its doorbell before checking again. */
  readonly idleWaitMs: number;
  /** The reduction kernels (reduceKernels), compiled once on the main thread. */
  readonly reduceModule: WebAssembly.Module;
  /** Byte offset of each device's scratch area (see scratchLayout), by device number. */
  readonly scratch: readonly number[];
}

/** Messages on an executor's port; each is read when the next doorbell rings, before the run starts. */
export type ExecutorMessage =
  | { readonly kind: "program"; readonly id: number; readonly name: string; readonly bytes: Uint8Array }
  | { readonly kind: "kernel"; readonly key: string; readonly module: WebAssembly.Module }
  | { readonly kind: "forget"; readonly id: number };

// Records (msgpackr's structure extension) are off so a message decodes without shared state.
const packr = new Packr({ useRecords: false });

export function encodeDeviceProgram(program: DeviceProgram): Uint8Array {
  return packr.pack(program);
}

export function decodeDeviceProgram(bytes: Uint8Array): DeviceProgram {
  return packr.unpack(bytes) as DeviceProgram;
}
