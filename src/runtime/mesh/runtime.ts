// The mesh runtime on the main thread: device memories, executors, program loading and runs.

import type { Piscina } from "piscina";
import { DeviceMemory } from "../device/memory.js";
import { ValueError } from "../errors.js";
import { checkInputExtents, type BindingUse } from "./extents.js";
import { Command, ControlBlock, controlLayout, DeviceState, FaultKind, Header, lostGeneration, Slot } from "./control.js";
import { ExecutorSet, describe, type ExecutorHandle } from "./executors.js";
import { faultError } from "./faults.js";
import { encodeDeviceProgram } from "./messages.js";
import { resolveOptions, type MeshRuntimeOptions } from "./options.js";
import { createPool, PoolKeepAlive } from "./pool.js";
import { reduceKernels } from "./reduce-kernels.js";
import { scratchLayout } from "./reducer.js";
import { bindingCount, type Program } from "./program.js";
import { MeshTopology } from "./topology.js";
import { validateProgram } from "./validate.js";
import { waitAsync } from "./wait.js";

export type { MeshRuntimeOptions } from "./options.js";

/** A program loaded into a mesh; pass it to run. */
export interface ProgramHandle {
  readonly id: number;
  readonly program: Program;
}

/** Bytes reserved in every device memory for collectives (see scratchLayout). */
export const scratchBytes = scratchLayout.totalBytes;

/** Extra milliseconds after the deadline before the main thread records a timeout itself, so that a worker's barrier timeout (which names the late peer) is recorded first. */
const recordGraceMs = 100;

export class MeshRuntime {
  readonly topology: MeshTopology;
  readonly memories: readonly DeviceMemory[];
  readonly timeoutMs: number;
  readonly #pool: Piscina;
  readonly #control: ControlBlock;
  readonly #executors: ExecutorSet;
  readonly #encoded = new Map<number, Uint8Array[]>();
  /** Per loaded program and device, the furthest use of each input binding, checked on every run. */
  readonly #inputUses = new Map<number, BindingUse[][]>();
  readonly #poolKeepAlive: PoolKeepAlive;
  /** Referenced only while a run is pending, so an awaited run completes but an idle mesh lets Node exit. */
  readonly #runKeepAlive = setInterval(() => {}, 2 ** 31 - 1).unref();
  readonly #blockingWaitMs: number;
  readonly #stopGraceMs: number;
  readonly #startTimeoutMs: number;
  #nextProgram = 1;
  #runs = 0;
  #queue: Promise<unknown> = Promise.resolve();
  /** Runs started or queued whose promise has not settled yet. */
  #pending = 0;
  #disposed = false;
  /** Calls of ready() that have not settled; a synchronous run must not start meanwhile. */
  #starting = 0;
  /** Devices a synchronous run left unfinished; ready() terminates and replaces them. */
  #stuck: number[] = [];
  /** Devices whose executor ended during the current run, so they will never report done. */
  #lost: Set<number> | undefined;

  constructor(shape: readonly number[], axisNames: readonly string[], options: MeshRuntimeOptions = {}) {
    this.topology = new MeshTopology(shape, axisNames);
    const devices = this.topology.deviceCount;
    const resolved = resolveOptions(options, devices);
    this.timeoutMs = resolved.timeoutMs;
    this.#blockingWaitMs = resolved.blockingWaitMs;
    this.#stopGraceMs = resolved.stopGraceMs;
    this.#startTimeoutMs = resolved.startTimeoutMs;
    this.#pool = createPool(resolved.threads);
    this.#poolKeepAlive = new PoolKeepAlive(this.#pool, () => this.#pending === 0);
    const layout = controlLayout(devices, resolved.maxBindings);
    this.#control = new ControlBlock(new SharedArrayBuffer(layout.bytes), layout);
    this.memories = Array.from({ length: devices }, (_, d) => new DeviceMemory({ device: `cpu:${d}`, capacityBytes: resolved.capacityBytes }));
    this.#executors = new ExecutorSet(this.#pool, this.#control, {
      shape: this.topology.shape, axisNames: this.topology.axisNames, memories: this.memories.map((m) => m.memory),
      control: this.#control.i32.buffer as SharedArrayBuffer, layout, idleWaitMs: 1000,
      reduceModule: reduceKernels().module, scratch: this.memories.map((memory) => memory.alloc(scratchBytes)),
    });
    this.#executors.onExit = (handle) => this.#onExecutorExit(handle);
    this.#executors.startMissing();
  }

  /** The piscina pool that hosts the executors, for inspection and fault-injection tests. */
  get pool(): Piscina {
    return this.#pool;
  }

  /** Thread id of the worker that runs `device`'s executor (worker_threads threadId), or 0 before it started. */
  threadOf(device: number): number {
    return this.#control.load(device, Slot.Thread);
  }

  /** Validates and encodes `program`; each executor receives it before its first run. */
  load(program: Program): ProgramHandle {
    this.#checkOpen();
    const inputUses = validateProgram(program, this.topology);
    for (const [device, part] of program.devices.entries()) {
      if (bindingCount(part) > this.#control.layout.maxBindings) {
        throw new ValueError(`program "${program.name}" device ${device} has ${bindingCount(part)} bindings but this mesh allows ${this.#control.layout.maxBindings}; raise maxBindings`);
      }
    }
    const id = this.#nextProgram++;
    this.#encoded.set(id, program.devices.map(encodeDeviceProgram));
    this.#inputUses.set(id, inputUses);
    return { id, program };
  }

  /** Drops a program from this runtime and from every executor's cache. */
  unload(handle: ProgramHandle): void {
    if (!this.#encoded.delete(handle.id)) return;
    this.#inputUses.delete(handle.id);
    for (let device = 0; device < this.topology.deviceCount; device++) {
      const executor = this.#executors.get(device);
      if (executor?.programs.delete(handle.id) === true) this.#executors.post(device, { kind: "forget", id: handle.id });
    }
  }

  /**
   * Runs a loaded program with each device's input byte offsets, and resolves to each device's fresh
   * output offsets, which the caller owns and frees. Runs of one mesh execute one at a time in call
   * order. A failed run rejects with one DeviceError or TimeoutError and frees its outputs.
   */
  run(handle: ProgramHandle, inputs: readonly (readonly number[])[]): Promise<number[][]> {
    // With no run pending, start at once: a short run then completes without yielding to the event loop.
    if (this.#pending === 0) this.#runKeepAlive.ref();
    const result = this.#pending === 0 ? this.#run(handle, inputs) : this.#queue.then(() => this.#run(handle, inputs));
    this.#pending++;
    this.#queue = result.then(
      () => this.#settled(),
      () => this.#settled(),
    );
    return result;
  }

  /** Counts a settled run; once none is pending, lets Node exit if nothing else keeps it alive. */
  #settled(): void {
    this.#pending--;
    if (this.#pending > 0) return;
    this.#runKeepAlive.unref();
    this.#poolKeepAlive.release();
  }

  /** Stops every executor and the pool; the memories stay readable. */
  async dispose(): Promise<void> {
    if (this.#disposed) return;
    this.#disposed = true;
    await this.#queue;
    await this.#executors.stop(this.#stopGraceMs);
    await this.#pool.destroy();
    clearInterval(this.#runKeepAlive);
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.dispose();
  }

  /**
   * Resolves once every device has a running executor: after construction, and after a synchronous run
   * left a device stuck (its worker is terminated and replaced here).
   */
  async ready(): Promise<void> {
    this.#checkOpen();
    if (this.#stuck.length === 0 && this.#executors.allReady()) return;
    // Counted like a run, so that the workers starting up keep Node alive until they are ready.
    if (this.#pending++ === 0) this.#runKeepAlive.ref();
    this.#starting++;
    try {
      await this.#releaseStuck();
      if (!this.#executors.allReady()) await this.#executors.ready(Date.now() + this.timeoutMs + this.#startTimeoutMs);
    } catch (error) {
      if (this.#disposed) throw new ValueError("this mesh was disposed while its workers were starting; create a new DeviceMesh");
      throw error;
    } finally {
      this.#starting--;
      this.#settled();
    }
  }

  async #run(handle: ProgramHandle, inputs: readonly (readonly number[])[]): Promise<number[][]> {
    this.#checkOpen();
    this.#checkInputs(handle, inputs);
    if (this.#stuck.length > 0 || !this.#executors.allReady()) await this.ready();
    const { outputs, temps } = this.#allocate(handle.program);
    try {
      this.#send(handle);
      this.#ring(handle, inputs, outputs, temps);
      if (!this.#waitBlocking()) await this.#wait(handle);
      this.#raiseFault(handle);
    } catch (error) {
      this.#free(outputs);
      throw error;
    } finally {
      this.#free(temps);
    }
    return outputs;
  }

  /**
   * Runs like `run` but blocks the calling thread until every device finished, the run failed, or the
   * timeout passed, so compiled functions on a mesh stay synchronous. Needs a ready mesh: await
   * `ready()` once after construction. A device that does not finish in time is replaced by the next
   * `ready()`, and the run raises a TimeoutError.
   */
  runSync(handle: ProgramHandle, inputs: readonly (readonly number[])[]): number[][] {
    this.#checkOpen();
    this.#checkInputs(handle, inputs);
    const name = handle.program.name;
    if (this.#starting > 0) throw new ValueError(`program "${name}": the mesh is still starting its workers; await mesh.ready() before calling compiled code on it`);
    if (this.#pending > 0) throw new ValueError(`program "${name}": an asynchronous run of this mesh is still pending; await it before running synchronously`);
    if (this.#stuck.length > 0 || !this.#executors.allReady()) {
      throw new ValueError(`program "${name}": the mesh's device executors are not running; await mesh.ready() after creating the mesh or after a failed run, then call again`);
    }
    const { outputs, temps } = this.#allocate(handle.program);
    try {
      this.#send(handle);
      this.#ring(handle, inputs, outputs, temps);
      this.#waitSync();
      this.#raiseFault(handle);
    } catch (error) {
      this.#free(outputs);
      throw error;
    } finally {
      this.#free(temps);
    }
    return outputs;
  }

  #allocate(program: Program): { outputs: number[][]; temps: number[][] } {
    return {
      outputs: program.devices.map((part, d) => part.outputs.map((bytes) => this.memories[d].alloc(bytes))),
      temps: program.devices.map((part, d) => part.temps.map((bytes) => this.memories[d].alloc(bytes))),
    };
  }

  #free(offsets: readonly (readonly number[])[]): void {
    offsets.forEach((list, d) => list.forEach((offset) => this.memories[d].free(offset)));
  }

  #raiseFault(handle: ProgramHandle): void {
    if (this.#control.aborted) throw faultError(this.#control, { program: handle.program, timeoutMs: this.timeoutMs, terminated: [] });
  }

  /**
   * Blocks until every device finished. Past the deadline it records a run timeout, which aborts the
   * run. Devices that still have not finished after the stop grace are kept as stuck.
   */
  #waitSync(): void {
    const watch = { stopBy: Infinity };
    for (;;) {
      const next = this.#poll(watch);
      if (next.kind === "done") break;
      if (next.kind === "give up") {
        this.#stuck = next.unfinished;
        break;
      }
      Atomics.wait(this.#control.i32, Header.Done, next.done, next.ms);
    }
    this.#lost = undefined;
  }

  /**
   * Looks at the current run once. Past the deadline it records a run timeout (which aborts the run).
   * After an abort it allows the stop grace, then gives up on the devices still running.
   */
  #poll(watch: { stopBy: number }): { kind: "done" } | { kind: "wait"; done: number; ms: number } | { kind: "give up"; unfinished: number[] } {
    const control = this.#control;
    const done = Atomics.load(control.i32, Header.Done);
    const unfinished = this.#unfinished();
    if (unfinished.length === 0) return { kind: "done" };
    const now = Date.now();
    if (watch.stopBy === Infinity && !control.aborted && now >= control.deadline + recordGraceMs) this.#recordRunTimeout(unfinished);
    if (watch.stopBy === Infinity && control.aborted) watch.stopBy = now + this.#stopGraceMs;
    if (now >= watch.stopBy) return { kind: "give up", unfinished };
    return { kind: "wait", done, ms: Math.max(1, Math.min(watch.stopBy, control.deadline + recordGraceMs) - now) };
  }

  /**
   * Terminates the workers of devices that a synchronous run left unfinished or whose executor reported
   * its own exit before the main thread saw the exit event. ready() then replaces them.
   */
  async #releaseStuck(): Promise<void> {
    const lost = Array.from({ length: this.topology.deviceCount }, (_, d) => d).filter((d) => this.#control.load(d, Slot.Ready) === lostGeneration);
    const stuck = [...new Set([...this.#stuck, ...lost])];
    if (stuck.length === 0) return;
    this.#stuck = [];
    await Promise.all(stuck.map((device) => this.#executors.terminate(device, this.#stopGraceMs)));
  }

  #checkOpen(): void {
    if (this.#disposed) throw new ValueError("this mesh was disposed; create a new DeviceMesh");
  }

  #checkInputs(handle: ProgramHandle, inputs: readonly (readonly number[])[]): void {
    const { program } = handle;
    if (!this.#encoded.has(handle.id)) throw new ValueError(`program "${program.name}" is not loaded in this mesh (it was unloaded or loaded elsewhere); call load first`);
    if (inputs.length !== this.topology.deviceCount) throw new ValueError(`program "${program.name}" needs one input list per device (${this.topology.deviceCount}), got ${inputs.length}`);
    inputs.forEach((list, d) => {
      if (list.length !== program.devices[d].inputs) throw new ValueError(`program "${program.name}" device ${d} takes ${program.devices[d].inputs} inputs, got ${list.length}`);
    });
    const uses = this.#inputUses.get(handle.id) as BindingUse[][];
    inputs.forEach((list, d) => checkInputExtents(program.name, d, this.memories[d], list, uses[d]));
  }

  /** Posts the program, and the kernels it launches, to executors that have not received them. */
  #send(handle: ProgramHandle): void {
    const encoded = this.#encoded.get(handle.id) as Uint8Array[];
    const kernels = handle.program.kernels ?? [];
    for (let device = 0; device < this.topology.deviceCount; device++) {
      const executor = this.#executors.get(device) as ExecutorHandle;
      if (executor.programs.has(handle.id)) continue;
      for (const kernel of kernels) {
        if (executor.kernels.has(kernel.key)) continue;
        this.#executors.post(device, { kind: "kernel", key: kernel.key, module: kernel.module });
        executor.kernels.add(kernel.key);
      }
      this.#executors.post(device, { kind: "program", id: handle.id, name: handle.program.name, bytes: encoded[device] });
      executor.programs.add(handle.id);
    }
  }

  /** Writes each device's bindings, resets the run state and rings every doorbell. */
  #ring(handle: ProgramHandle, inputs: readonly (readonly number[])[], outputs: number[][], temps: number[][]): void {
    const control = this.#control;
    const devices = this.topology.deviceCount;
    control.reset(++this.#runs, Date.now() + this.timeoutMs, devices);
    this.#lost = new Set();
    for (let device = 0; device < devices; device++) {
      const bindings = [...inputs[device], ...outputs[device], ...temps[device]];
      control.store(device, Slot.Program, handle.id);
      control.store(device, Slot.BindingCount, bindings.length);
      control.i32.set(bindings, control.at(device, Slot.Bindings));
      control.store(device, Slot.Step, -1);
      control.store(device, Slot.Command, Command.Run);
    }
    for (let device = 0; device < devices; device++) {
      const bell = control.at(device, Slot.Bell);
      Atomics.add(control.i32, bell, 1);
      Atomics.notify(control.i32, bell);
    }
  }

  /**
   * Blocks the main thread for up to blockingWaitMs until every device finished; returns false when the
   * run is still going or was aborted, so the event loop must run (worker exits are reported through it).
   */
  #waitBlocking(): boolean {
    const control = this.#control;
    const devices = this.topology.deviceCount;
    const until = performance.now() + this.#blockingWaitMs;
    for (;;) {
      // Each device adds 1 to Done once per run, when it finished, so Done == devices means all finished.
      const done = Atomics.load(control.i32, Header.Done);
      if (done >= devices) {
        this.#lost = undefined;
        return true;
      }
      if (control.aborted) return false;
      const remaining = until - performance.now();
      if (remaining <= 0) return false;
      Atomics.wait(control.i32, Header.Done, done, remaining);
    }
  }

  /** Waits until every device finished or was lost, yielding to the event loop; terminates devices that ignore an abort. */
  async #wait(handle: ProgramHandle): Promise<void> {
    const watch = { stopBy: Infinity };
    for (;;) {
      const next = this.#poll(watch);
      if (next.kind === "done") break;
      if (next.kind === "give up") {
        await this.#terminate(handle, next.unfinished);
        return;
      }
      await waitAsync(this.#control.i32, Header.Done, next.done, next.ms);
    }
    this.#lost = undefined;
  }

  /** Devices that neither finished the current run nor lost their executor. */
  #unfinished(): number[] {
    const run = Atomics.load(this.#control.i32, Header.Run);
    const result: number[] = [];
    for (let device = 0; device < this.topology.deviceCount; device++) {
      if (this.#control.load(device, Slot.Finished) !== run && this.#lost?.has(device) !== true) result.push(device);
    }
    return result;
  }

  /** Records a run timeout against the first unfinished device that is not waiting for a peer. */
  #recordRunTimeout(unfinished: readonly number[]): void {
    const control = this.#control;
    const busy = unfinished.find((device) => control.load(device, Slot.State) !== DeviceState.Waiting) ?? unfinished[0];
    control.recordFault(busy, FaultKind.RunTimeout, control.load(busy, Slot.Step), -1, "run timeout");
  }

  /** Terminates the workers of devices that ignored the abort, then raises the run's error. */
  async #terminate(handle: ProgramHandle, unfinished: readonly number[]): Promise<never> {
    for (const device of unfinished) this.#lost?.add(device);
    await Promise.all(unfinished.map((device) => this.#executors.terminate(device, this.#stopGraceMs)));
    this.#lost = undefined;
    throw faultError(this.#control, { program: handle.program, timeoutMs: this.timeoutMs, terminated: unfinished });
  }

  /** An executor's task ended outside stop(): during a run this aborts the run; its device gets a new executor on the next run. */
  #onExecutorExit(handle: ExecutorHandle): void {
    this.#executors.forget(handle.device);
    if (this.#disposed || this.#lost === undefined) return;
    if (this.#control.load(handle.device, Slot.Finished) === Atomics.load(this.#control.i32, Header.Run)) return;
    this.#lost.add(handle.device);
    const step = this.#control.load(handle.device, Slot.Step);
    this.#control.recordFault(handle.device, FaultKind.WorkerExit, step, -1, describe(handle.exitCause));
  }
}
