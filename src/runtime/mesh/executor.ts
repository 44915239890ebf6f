// The device executor: a long-lived loop on a worker thread that waits on its doorbell and runs programs.

import { receiveMessageOnPort, threadId } from "node:worker_threads";
import { IndexError, InternalError } from "../errors.js";
import { outOfRangeMessage } from "../wasm/layout/indexing.js";
import { instantiate, type CompiledKernel } from "../wasm/kernel.js";
import { Barrier, RunAborted } from "./barrier.js";
import { runCollective } from "./collectives.js";
import { Command, ControlBlock, DeviceState, FaultKind, Header, lostGeneration, Slot } from "./control.js";
import { decodeDeviceProgram, type ExecutorMessage, type ExecutorTask } from "./messages.js";
import { Reducer, scratchLayout } from "./reducer.js";
import { isCollective, type DeviceProgram, type IndexCheck, type KernelStep, type Operand, type Step } from "./program.js";
import { MeshTopology, type DeviceGroup } from "./topology.js";
import { MemoryViews } from "./views.js";

type KernelFunction = (...args: number[]) => unknown;

/** A program cached in the worker, with each collective's group and each kernel's function resolved once. */
interface LoadedProgram {
  readonly name: string;
  readonly program: DeviceProgram;
  readonly groups: readonly (DeviceGroup | undefined)[];
  readonly functions: (KernelFunction | undefined)[];
}

/** Runs the executor loop until the main thread sends Command.Stop; returns the device number. */
export function runExecutor(task: ExecutorTask): number {
  return new Executor(task).loop();
}

class Executor {
  readonly #task: ExecutorTask;
  readonly #device: number;
  readonly #control: ControlBlock;
  readonly #topology: MeshTopology;
  readonly #views: MemoryViews[];
  readonly #barrier: Barrier;
  readonly #reducer: Reducer;
  readonly #programs = new Map<number, LoadedProgram>();
  readonly #kernels = new Map<string, CompiledKernel>();
  #bindings: number[] = [];
  #mailSeen = 0;
  /** Collectives run so far in the current run; its parity picks the mailbox of small collectives. */
  #collectives = 0;
  /**
   * Per mailbox parity, the group that last used it and the barrier count each member reaches only
   * after it stopped reading. Consecutive collectives may run in different groups (per-axis
   * collectives on a 2-D mesh), so the collective in between does not always prove that every reader
   * of the last use has finished.
   */
  #mailboxReaders: ({ members: readonly number[]; target: number } | undefined)[] = [undefined, undefined];

  constructor(task: ExecutorTask) {
    this.#task = task;
    this.#device = task.device;
    this.#control = new ControlBlock(task.control, task.layout);
    this.#topology = new MeshTopology(task.shape, task.axisNames);
    this.#views = task.memories.map((memory) => new MemoryViews(memory));
    this.#barrier = new Barrier(this.#control, task.device);
    this.#reducer = new Reducer(task.reduceModule, task.memories[task.device], task.scratch[task.device]);
  }

  loop(): number {
    const control = this.#control;
    const bell = control.at(this.#device, Slot.Bell);
    let seen = Atomics.load(control.i32, bell);
    // A mesh disposed before this executor started has already rung the bell it would wait on.
    if (control.load(this.#device, Slot.Command) === Command.Stop) return this.#device;
    control.store(this.#device, Slot.Thread, threadId);
    process.once("exit", (code) => this.#onExit(code));
    control.store(this.#device, Slot.Ready, this.#task.generation);
    Atomics.notify(control.i32, control.at(this.#device, Slot.Ready));
    for (;;) {
      Atomics.wait(control.i32, bell, seen, this.#task.idleWaitMs);
      const rung = Atomics.load(control.i32, bell);
      if (rung === seen) continue;
      seen = rung;
      this.#drainMessages();
      const command = control.load(this.#device, Slot.Command);
      if (command === Command.Stop) return this.#device;
      if (command !== Command.Run) throw new InternalError(`device ${this.#device}: unknown executor command ${command}`);
      this.#run();
      this.#finish();
    }
  }

  #drainMessages(): void {
    const mail = this.#control.load(this.#device, Slot.Mail);
    if (mail === this.#mailSeen) return;
    this.#mailSeen = mail;
    for (;;) {
      const received = receiveMessageOnPort(this.#task.port);
      if (received === undefined) return;
      this.#handle(received.message as ExecutorMessage);
    }
  }

  #handle(message: ExecutorMessage): void {
    switch (message.kind) {
      case "program":
        this.#programs.set(message.id, this.#load(message.name, decodeDeviceProgram(message.bytes)));
        return;
      case "kernel":
        this.#kernels.set(message.key, { key: message.key, module: message.module });
        return;
      case "forget":
        this.#programs.delete(message.id);
        return;
      default:
        message satisfies never;
    }
  }

  #load(name: string, program: DeviceProgram): LoadedProgram {
    const groups = program.steps.map((step) => (isCollective(step) ? this.#topology.groupOf(this.#device, step.axes) : undefined));
    return { name, program, groups, functions: new Array<KernelFunction | undefined>(program.steps.length) };
  }

  #run(): void {
    const control = this.#control;
    const id = control.load(this.#device, Slot.Program);
    const loaded = this.#programs.get(id);
    this.#barrier.reset();
    this.#collectives = 0;
    this.#mailboxReaders = [undefined, undefined];
    control.store(this.#device, Slot.State, DeviceState.Running);
    if (loaded === undefined) {
      control.recordFault(this.#device, FaultKind.Threw, -1, -1, `internal: program ${id} was never sent to this executor`);
      return;
    }
    this.#readBindings();
    const steps = loaded.program.steps;
    for (let index = 0; index < steps.length; index++) {
      if (control.aborted) return;
      this.#barrier.step = index;
      control.store(this.#device, Slot.Step, index);
      try {
        this.#runStep(loaded, index, steps[index]);
      } catch (error) {
        if (!(error instanceof RunAborted)) control.recordFault(this.#device, FaultKind.Threw, index, -1, describe(error));
        return;
      }
    }
  }

  #readBindings(): void {
    const control = this.#control;
    const count = control.load(this.#device, Slot.BindingCount);
    const base = control.at(this.#device, Slot.Bindings);
    this.#bindings = Array.from(control.i32.subarray(base, base + count));
  }

  #runStep(loaded: LoadedProgram, index: number, step: Step): void {
    switch (step.kind) {
      case "kernel": {
        const status = this.#kernelFunction(loaded, index, step)(...step.args.map((arg) => this.#resolve(arg)));
        if (step.check !== undefined && typeof status === "number" && status !== 0) this.#raiseBadIndex(step.check, status);
        return;
      }
      case "allReduce":
      case "allGather":
      case "reduceScatter":
      case "allToAll":
      case "broadcast":
      case "permute": {
        const group = loaded.groups[index] as DeviceGroup;
        const where = `program "${loaded.name}" device ${this.#device} step ${index}`;
        const parity = this.#collectives++ % 2;
        this.#awaitMailboxReaders(parity);
        const mailbox = (device: number) => this.#task.scratch[device] + scratchLayout.mailbox(parity);
        const context = { views: this.#views, control: this.#control, group, barrier: this.#barrier, reducer: this.#reducer, mailbox, where };
        runCollective(step, this.#resolve(step.input), this.#resolve(step.output), context);
        this.#mailboxReaders[parity] = { members: group.members, target: this.#barrier.arrivals + 1 };
        return;
      }
      case "throw":
        throw new Error(step.message);
      case "sleep":
        Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, step.ms);
        return;
      case "exit":
        process.exit(step.code);
      default:
        step satisfies never;
    }
  }

  /** Waits until every device that may still read this device's mailbox `parity` has moved past that collective. */
  #awaitMailboxReaders(parity: number): void {
    const readers = this.#mailboxReaders[parity];
    if (readers !== undefined) this.#barrier.awaitPeers(readers.members, readers.target);
  }

  #kernelFunction(loaded: LoadedProgram, index: number, step: KernelStep): KernelFunction {
    const cached = loaded.functions[index];
    if (cached !== undefined) return cached;
    const kernel = this.#kernels.get(step.kernel);
    if (kernel === undefined) throw new InternalError(`kernel "${step.kernel}" was never sent to the executor of device ${this.#device}`);
    const exported = instantiate(kernel, this.#task.memories[this.#device]).exports[step.entry];
    if (typeof exported !== "function") throw new InternalError(`kernel "${step.kernel}" has no exported function "${step.entry}"`);
    loaded.functions[index] = exported as KernelFunction;
    return exported as KernelFunction;
  }

  #raiseBadIndex(check: IndexCheck, status: number): never {
    const memory = this.#task.memories[this.#device];
    const bad = new Int32Array(memory.buffer, this.#resolve(check.indices) + 4 * (status - 1), 1)[0];
    throw new IndexError(outOfRangeMessage(check.op, bad, status - 1, check.bound));
  }

  #resolve(operand: Operand): number {
    if (typeof operand === "number") return operand;
    return this.#bindings[operand.binding] + (operand.offset ?? 0);
  }

  /**
   * Runs when the worker thread ends through process.exit. A main thread blocked in a synchronous run
   * cannot see the exit event, so the executor records the fault, counts itself done, and marks its
   * Ready slot lost. The next run then requires ready(), which replaces the executor.
   */
  #onExit(code: number): void {
    const control = this.#control;
    control.store(this.#device, Slot.Ready, lostGeneration);
    if (control.load(this.#device, Slot.State) !== DeviceState.Running) return;
    const step = control.load(this.#device, Slot.Step);
    control.recordFault(this.#device, FaultKind.WorkerExit, step, -1, `the worker called process.exit(${code})`);
    this.#finish();
  }

  /** Marks the device idle and counts it done; the last device (or any, after an abort) wakes the main thread. */
  #finish(): void {
    const control = this.#control;
    control.store(this.#device, Slot.State, DeviceState.Idle);
    control.store(this.#device, Slot.Finished, Atomics.load(control.i32, Header.Run));
    const done = Atomics.add(control.i32, Header.Done, 1) + 1;
    if (done >= Atomics.load(control.i32, Header.Target) || control.aborted) Atomics.notify(control.i32, Header.Done);
  }
}

function describe(error: unknown): string {
  return error instanceof Error ? `${error.name}: ${error.message}` : `thrown value ${String(error)}`;
}
