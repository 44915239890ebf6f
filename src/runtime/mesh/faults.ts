// Turns the fault record of an aborted run into the one typed error its caller receives.

import { DeviceError, InternalError, TimeoutError } from "../errors.js";
import { FaultKind, Header, Slot, type ControlBlock } from "./control.js";
import type { Program } from "./program.js";

export interface RunFailure {
  readonly program: Program;
  readonly timeoutMs: number;
  /** Devices whose workers were terminated because they did not stop after the abort. */
  readonly terminated: readonly number[];
}

const unchanged = "The run was aborted on every device and changed no buffer that existed before it";

export function faultError(control: ControlBlock, failure: RunFailure): DeviceError {
  const i32 = control.i32;
  const kind = Atomics.load(i32, Header.FaultKind) as FaultKind;
  const device = Atomics.load(i32, Header.FaultDevice);
  const step = Atomics.load(i32, Header.FaultStep);
  const peer = Atomics.load(i32, Header.FaultPeer);
  const text = control.faultText();
  const name = failure.program.name;
  const stepName = (d: number) => describeStep(failure.program, d, step);
  const replaced = describeTerminated(failure.terminated);
  switch (kind) {
    case FaultKind.Threw:
      return new DeviceError(`program "${name}" failed on device ${device} at ${stepName(device)}: ${text}. ${unchanged}; fix the failing step and run again`, device, name, step);
    case FaultKind.BarrierTimeout: {
      const peerStep = control.load(peer, Slot.Step);
      return new TimeoutError(
        `program "${name}" timed out after ${failure.timeoutMs} ms: device ${peer} was still in ${describeStep(failure.program, peer, peerStep)} ` +
          `while device ${device} waited for it at ${stepName(device)}${replaced}. ${unchanged}; raise the mesh timeoutMs if device ${peer}'s steps are slow`,
        peer, name, peerStep,
      );
    }
    case FaultKind.WorkerExit:
      return new DeviceError(`program "${name}": the worker of device ${device} exited during ${stepName(device)} (${text}). ${unchanged}; a new worker takes over the device at the next run (compiled calls need \`await mesh.ready()\` first)`, device, name, step);
    case FaultKind.RunTimeout:
      return new TimeoutError(
        `program "${name}": device ${device} did not finish ${stepName(device)} within the ${failure.timeoutMs} ms timeout${replaced}. ${unchanged}; raise the mesh timeoutMs for longer programs`,
        device, name, step,
      );
    case FaultKind.None:
      throw new InternalError(`program "${name}" was aborted without a fault record`);
    default:
      return kind satisfies never;
  }
}

function describeStep(program: Program, device: number, step: number): string {
  const kind = program.devices[device]?.steps[step]?.kind;
  return kind === undefined ? "the start of the run" : `step ${step} (${kind})`;
}

function describeTerminated(devices: readonly number[]): string {
  if (devices.length === 0) return "";
  if (devices.length === 1) return `; the worker of device ${devices[0]} was terminated and is replaced for the next run`;
  return `; the workers of devices ${devices.join(", ")} were terminated and are replaced for the next run`;
}
