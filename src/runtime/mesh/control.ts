// The shared control block of a mesh: doorbells, run bindings, barrier counters and the fault record.
//
// Layout of the Int32Array over one SharedArrayBuffer, in i32 slots:
//   header        [0, 16)    abort flag, done counter, fault record
//   deadline      [16, 18)   float64 Date.now() milliseconds when the current run times out
//   fault text    [32, 288)  UTF-8 message of the first fault, 1024 bytes
//   device d      [deviceBase + d * stride, ...)  doorbell, command, program id, barrier counter,
//                 state and the run's bindings; strides are a multiple of 16 slots (64 bytes)
//                 so devices never share a cache line.

export const enum Header {
  Abort = 0,
  /** Devices that finished the current run, successfully or not. */
  Done = 1,
  /** Done count at which the last device notifies the main thread. */
  Target = 2,
  /** Device where the first fault happened, or -1. */
  FaultDevice = 3,
  FaultKind = 4,
  FaultStep = 5,
  /** For a barrier timeout: the peer that did not arrive. */
  FaultPeer = 6,
  FaultTextBytes = 7,
  /** Sequence number of the current run; a device copies it to its Finished slot when it is done. */
  Run = 8,
}

export const enum FaultKind {
  None = 0,
  /** A step threw on the device. */
  Threw = 1,
  /** The device waited at a barrier past the deadline; FaultPeer is the device it waited for. */
  BarrierTimeout = 2,
  /** The device's worker exited; recorded by the main thread. */
  WorkerExit = 3,
  /** The device did not finish by the deadline; recorded by the main thread. */
  RunTimeout = 4,
}

/** Ready-slot value of a device whose executor ended; no executor generation is negative. */
export const lostGeneration = -1;

export const enum Command {
  Run = 1,
  Stop = 2,
}

export const enum DeviceState {
  Idle = 0,
  Running = 1,
  /** Inside a barrier, waiting for peers. */
  Waiting = 2,
}

export const enum Slot {
  Bell = 0,
  Command = 1,
  Program = 2,
  BindingCount = 3,
  /** Barriers this device has arrived at in the current run. */
  Arrive = 4,
  State = 5,
  Step = 6,
  /** Generation of the executor that serves the device; written when it starts. */
  Ready = 7,
  Thread = 8,
  /** Sequence number of the last run this device finished. */
  Finished = 9,
  /** Byte offsets of this device's input and output in the collective it is running, for its peers. */
  Input = 10,
  Output = 11,
  /** Messages posted to this device's executor so far; the executor reads its port only when this changes. */
  Mail = 12,
  Bindings = 16,
}

const deadlineSlot = 16;
const faultTextSlot = 32;
export const faultTextBytes = 1024;
const deviceBase = faultTextSlot + faultTextBytes / 4;

/** Sizes and offsets of one mesh's control block; plain data, so it can be posted to workers. */
export interface ControlLayout {
  readonly devices: number;
  readonly maxBindings: number;
  readonly stride: number;
  readonly bytes: number;
}

export function controlLayout(devices: number, maxBindings: number): ControlLayout {
  const stride = Math.ceil((Slot.Bindings + maxBindings) / 16) * 16;
  return { devices, maxBindings, stride, bytes: (deviceBase + devices * stride) * 4 };
}

/** Typed access to a control block; one instance per thread over the same SharedArrayBuffer. */
export class ControlBlock {
  readonly i32: Int32Array;
  readonly #f64: Float64Array;
  readonly #u8: Uint8Array;
  readonly layout: ControlLayout;

  constructor(buffer: SharedArrayBuffer, layout: ControlLayout) {
    this.i32 = new Int32Array(buffer);
    this.#f64 = new Float64Array(buffer);
    this.#u8 = new Uint8Array(buffer);
    this.layout = layout;
  }

  /** Slot index of field `slot` of `device`. */
  at(device: number, slot: Slot): number {
    return deviceBase + device * this.layout.stride + slot;
  }

  load(device: number, slot: Slot): number {
    return Atomics.load(this.i32, this.at(device, slot));
  }

  store(device: number, slot: Slot, value: number): void {
    Atomics.store(this.i32, this.at(device, slot), value);
  }

  get aborted(): boolean {
    return Atomics.load(this.i32, Header.Abort) !== 0;
  }

  get deadline(): number {
    return this.#f64[deadlineSlot / 2];
  }

  set deadline(ms: number) {
    this.#f64[deadlineSlot / 2] = ms;
  }

  /**
   * Records the first fault of the run and aborts it; returns false when another fault came first. The
   * text is written before the abort flag is set, so a thread that reads the flag set also reads a complete record.
   */
  recordFault(device: number, kind: FaultKind, step: number, peer: number, text: string): boolean {
    if (Atomics.compareExchange(this.i32, Header.FaultDevice, -1, device) !== -1) {
      this.abort();
      return false;
    }
    const bytes = new TextEncoder().encode(text).subarray(0, faultTextBytes);
    this.#u8.set(bytes, faultTextSlot * 4);
    Atomics.store(this.i32, Header.FaultTextBytes, bytes.length);
    Atomics.store(this.i32, Header.FaultKind, kind);
    Atomics.store(this.i32, Header.FaultStep, step);
    Atomics.store(this.i32, Header.FaultPeer, peer);
    this.abort();
    return true;
  }

  /** Fault text of the current run; copied, since TextDecoder does not accept shared memory. */
  faultText(): string {
    const length = Atomics.load(this.i32, Header.FaultTextBytes);
    return new TextDecoder().decode(this.#u8.slice(faultTextSlot * 4, faultTextSlot * 4 + length));
  }

  /**
   * Sets the abort flag and wakes every thread that may be waiting in the current run. Arrival counters
   * are set to their maximum so that a waiter that checked the flag just before it was set still wakes,
   * because its Atomics.wait finds a changed value instead of sleeping until the deadline.
   */
  abort(): void {
    Atomics.store(this.i32, Header.Abort, 1);
    for (let device = 0; device < this.layout.devices; device++) {
      Atomics.store(this.i32, this.at(device, Slot.Arrive), 0x7fffffff);
      Atomics.notify(this.i32, this.at(device, Slot.Arrive));
    }
    Atomics.notify(this.i32, Header.Done);
  }

  /** Clears the run state before a run; only the main thread calls this, while every device is idle. */
  reset(run: number, deadline: number, target: number): void {
    Atomics.store(this.i32, Header.Run, run);
    Atomics.store(this.i32, Header.Abort, 0);
    Atomics.store(this.i32, Header.Done, 0);
    Atomics.store(this.i32, Header.Target, target);
    Atomics.store(this.i32, Header.FaultDevice, -1);
    Atomics.store(this.i32, Header.FaultKind, FaultKind.None);
    Atomics.store(this.i32, Header.FaultStep, -1);
    Atomics.store(this.i32, Header.FaultPeer, -1);
    Atomics.store(this.i32, Header.FaultTextBytes, 0);
    for (let device = 0; device < this.layout.devices; device++) this.store(device, Slot.Arrive, 0);
    this.deadline = deadline;
  }
}
