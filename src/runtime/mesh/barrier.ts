// Group barriers for collectives, on per-device arrival counters in the control block.
//
// Every device runs the same collectives in the same order (validateProgram enforces it), so the k-th
// barrier of a run means the same point on every device. A device arrives by storing k in its own
// counter and then waits until each peer of its group has stored at least k. Counters only grow within
// a run (an abort sets them to the maximum), so a peer that is already past barrier k blocks no one.
// Because each device waits on each peer in turn, a device that times out knows which peer never arrived.

import { DeviceState, FaultKind, Slot, type ControlBlock } from "./control.js";

/** Thrown inside a worker to leave a run that was aborted; the fault, if any, is already recorded. */
export class RunAborted extends Error {}

export class Barrier {
  readonly #control: ControlBlock;
  readonly #device: number;
  #arrivals = 0;
  /** Index of the step being run, for the fault record. */
  step = -1;

  constructor(control: ControlBlock, device: number) {
    this.#control = control;
    this.#device = device;
  }

  /** Starts a run: the main thread has reset every arrival counter to 0. */
  reset(): void {
    this.#arrivals = 0;
    this.step = -1;
  }

  /** Waits until every member of `members` has arrived; raises RunAborted on an abort or a timeout. */
  arrive(members: readonly number[]): void {
    const control = this.#control;
    const target = ++this.#arrivals;
    const index = control.at(this.#device, Slot.Arrive);
    Atomics.store(control.i32, index, target);
    Atomics.notify(control.i32, index);
    if (members.length === 1) return;

    control.store(this.#device, Slot.State, DeviceState.Waiting);
    for (const peer of members) if (peer !== this.#device) this.#waitFor(peer, target);
    control.store(this.#device, Slot.State, DeviceState.Running);
    // An abort stores a huge count in every counter to wake waiters, so a barrier may seem to pass.
    if (control.aborted) throw new RunAborted();
  }

  /** Barriers this device has arrived at in the current run. */
  get arrivals(): number {
    return this.#arrivals;
  }

  /** Waits, without arriving, until every peer in `members` has arrived at `target` barriers. */
  awaitPeers(members: readonly number[], target: number): void {
    const control = this.#control;
    control.store(this.#device, Slot.State, DeviceState.Waiting);
    for (const peer of members) if (peer !== this.#device) this.#waitFor(peer, target);
    control.store(this.#device, Slot.State, DeviceState.Running);
  }

  #waitFor(peer: number, target: number): void {
    const control = this.#control;
    const index = control.at(peer, Slot.Arrive);
    for (;;) {
      if (control.aborted) throw new RunAborted();
      const count = Atomics.load(control.i32, index);
      if (count >= target) return;
      const remaining = control.deadline - Date.now();
      if (remaining <= 0) {
        const text = `device ${this.#device} waited for device ${peer} at a barrier past the deadline`;
        control.recordFault(this.#device, FaultKind.BarrierTimeout, this.step, peer, text);
        throw new RunAborted();
      }
      Atomics.wait(control.i32, index, count, remaining);
    }
  }
}
