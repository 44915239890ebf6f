// Main-thread side of the device executors: starting, readiness, replacement after a fault, and stopping.

import { MessageChannel, type MessagePort } from "node:worker_threads";
import type { Piscina } from "piscina";
import { DeviceError } from "../errors.js";
import { Command, Slot, type ControlBlock } from "./control.js";
import type { ExecutorMessage, ExecutorTask } from "./messages.js";
import { waitAsync } from "./wait.js";

/** One running executor: the piscina task that occupies a worker for one device. */
export interface ExecutorHandle {
  readonly device: number;
  readonly generation: number;
  readonly port: MessagePort;
  /** Program ids and kernel keys already posted to this executor. */
  readonly programs: Set<number>;
  readonly kernels: Set<string>;
  alive: boolean;
  /** Error the task ended with, if any. */
  exitCause?: unknown;
  /** Settles when the task ends, never rejects. */
  readonly finished: Promise<void>;
}

/** Fields of ExecutorTask that are the same for every device of a mesh. */
export type SharedTaskFields = Omit<ExecutorTask, "device" | "generation" | "port">;

export class ExecutorSet {
  readonly #pool: Piscina;
  readonly #control: ControlBlock;
  readonly #shared: SharedTaskFields;
  readonly #handles: (ExecutorHandle | undefined)[];
  readonly #generations: number[];
  /** Called when an executor's task ends while its handle is current (not after stop or terminate). */
  onExit: (handle: ExecutorHandle) => void = () => {};

  constructor(pool: Piscina, control: ControlBlock, shared: SharedTaskFields) {
    this.#pool = pool;
    this.#control = control;
    this.#shared = shared;
    this.#handles = new Array<ExecutorHandle | undefined>(control.layout.devices);
    this.#generations = new Array<number>(control.layout.devices).fill(0);
  }

  get(device: number): ExecutorHandle | undefined {
    return this.#handles[device];
  }

  /** Starts an executor for every device that has none; does not wait for them. */
  startMissing(): void {
    for (let device = 0; device < this.#handles.length; device++) {
      if (this.#handles[device] === undefined) this.#handles[device] = this.#start(device);
    }
  }

  /** Returns true when every device has a running executor that has announced itself. */
  allReady(): boolean {
    return this.#handles.every((handle, device) => handle?.alive === true && this.#control.load(device, Slot.Ready) === handle.generation);
  }

  /** Waits until every device's executor has announced itself; raises when one ends first or the deadline passes. */
  async ready(deadline: number): Promise<void> {
    this.startMissing();
    for (let device = 0; device < this.#handles.length; device++) await this.#readyOne(device, deadline);
  }

  /** Posts a message to a device's executor, which reads it when its doorbell next rings. */
  post(device: number, message: ExecutorMessage): void {
    const handle = this.#handles[device];
    if (handle === undefined) throw new DeviceError(`internal: device ${device} has no executor to post to`, device, "", -1);
    handle.port.postMessage(message);
    Atomics.add(this.#control.i32, this.#control.at(device, Slot.Mail), 1);
  }

  /**
   * Terminates the worker that runs `device`'s executor and drops its handle. Resolves once the task
   * ended, or after `graceMs` when the pool no longer lists the worker (it is already exiting).
   */
  async terminate(device: number, graceMs: number): Promise<void> {
    const handle = this.#handles[device];
    this.#handles[device] = undefined;
    if (handle === undefined || !handle.alive) return;
    const thread = this.#control.load(device, Slot.Thread);
    const worker = this.#pool.threads.find((candidate) => candidate.threadId === thread);
    if (worker !== undefined) await worker.terminate();
    await settleWithin(handle.finished, graceMs);
  }

  /** Forgets an executor whose task already ended, so the next startMissing replaces it. */
  forget(device: number): void {
    if (this.#handles[device]?.alive === false) this.#handles[device] = undefined;
  }

  /** Asks every executor to leave its loop, and waits up to `graceMs` for their tasks to end. */
  async stop(graceMs: number): Promise<void> {
    const handles = this.#handles.filter((handle): handle is ExecutorHandle => handle?.alive === true);
    this.#handles.fill(undefined);
    for (const handle of handles) {
      this.#control.store(handle.device, Slot.Command, Command.Stop);
      Atomics.add(this.#control.i32, this.#control.at(handle.device, Slot.Bell), 1);
      Atomics.notify(this.#control.i32, this.#control.at(handle.device, Slot.Bell));
    }
    await settleWithin(Promise.all(handles.map((handle) => handle.finished)), graceMs);
  }

  #start(device: number): ExecutorHandle {
    const generation = ++this.#generations[device];
    const { port1, port2 } = new MessageChannel();
    const task: ExecutorTask = { ...this.#shared, device, generation, port: port2 };
    const handle: { -readonly [K in keyof ExecutorHandle]: ExecutorHandle[K] } = {
      device, generation, port: port1, programs: new Set(), kernels: new Set(), alive: true, finished: Promise.resolve(),
    };
    handle.finished = this.#pool.run(task, { transferList: [port2] as never }).then(
      () => this.#ended(handle, undefined),
      (error: unknown) => this.#ended(handle, error ?? new Error("the worker ended without a reason")),
    );
    return handle;
  }

  #ended(handle: ExecutorHandle, cause: unknown): void {
    handle.alive = false;
    handle.exitCause = cause;
    handle.port.close();
    // Wakes a ready() wait on this device, which then finds the handle no longer alive.
    Atomics.notify(this.#control.i32, this.#control.at(handle.device, Slot.Ready));
    if (this.#handles[handle.device] === handle) this.onExit(handle);
  }

  async #readyOne(device: number, deadline: number): Promise<void> {
    const index = this.#control.at(device, Slot.Ready);
    for (;;) {
      const handle = this.#handles[device];
      if (handle === undefined) throw new DeviceError(`internal: device ${device} lost its executor while starting`, device, "", -1);
      const generation = Atomics.load(this.#control.i32, index);
      if (generation === handle.generation) return;
      if (!handle.alive) {
        this.#handles[device] = undefined;
        throw new DeviceError(`the executor of device ${device} ended before it started: ${describe(handle.exitCause)}. Check that \`npm run build\` succeeded`, device, "", -1);
      }
      const remaining = deadline - Date.now();
      if (remaining <= 0) {
        throw new DeviceError(`the executor of device ${device} did not start in time; the machine may be overloaded, or raise startTimeoutMs`, device, "", -1);
      }
      await waitAsync(this.#control.i32, index, generation, Math.min(remaining, 100));
    }
  }
}

/** Waits for `promise`, but no longer than `ms` milliseconds. */
async function settleWithin(promise: Promise<unknown>, ms: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const expired = new Promise<void>((resolve) => (timer = setTimeout(resolve, ms)));
  await Promise.race([promise, expired]);
  clearTimeout(timer);
}

export function describe(cause: unknown): string {
  return cause instanceof Error ? cause.message : String(cause);
}
