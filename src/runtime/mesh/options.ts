// Options of a mesh runtime: their defaults and the checks that reject values the runtime cannot use.

import { ValueError } from "../errors.js";

export interface MeshRuntimeOptions {
  /** Milliseconds a run may take, and the bound on every wait inside it. Default 30 000. */
  readonly timeoutMs?: number;
  /** Worker threads in the pool; at least the device count, which is the default. */
  readonly threads?: number;
  /** Maximum bytes of each device memory. Default 1 GiB. */
  readonly capacityBytes?: number;
  /** Largest number of bindings (inputs, outputs, temporaries) of one device program. Default 256. */
  readonly maxBindings?: number;
  /**
   * Milliseconds the main thread blocks in Atomics.wait for a run before it yields to the event loop.
   * Short runs finish inside this window with the lowest latency. Default 2.
   */
  readonly blockingWaitMs?: number;
  /** Milliseconds devices get to leave an aborted run before their workers are terminated. Default 1000. */
  readonly stopGraceMs?: number;
  /**
   * Milliseconds a run waits for worker threads to start, on top of timeoutMs; a busy machine can take
   * seconds to start eight workers. Default 30 000.
   */
  readonly startTimeoutMs?: number;
}

/** Options with every default filled in. */
export type ResolvedMeshOptions = Required<MeshRuntimeOptions>;

/** Maximum delay that Node's setTimeout accepts (2^31 - 1 ms, about 24.8 days). Node runs a longer timer after 1 ms. */
const maxMilliseconds = 2 ** 31 - 1;

/** Fills in defaults and raises a ValueError naming the first option that the runtime cannot use. */
export function resolveOptions(options: MeshRuntimeOptions, devices: number): ResolvedMeshOptions {
  const resolved: ResolvedMeshOptions = {
    timeoutMs: options.timeoutMs ?? 30_000,
    threads: options.threads ?? devices,
    capacityBytes: options.capacityBytes ?? 2 ** 30,
    maxBindings: options.maxBindings ?? 256,
    blockingWaitMs: options.blockingWaitMs ?? 2,
    stopGraceMs: options.stopGraceMs ?? 1000,
    startTimeoutMs: options.startTimeoutMs ?? 30_000,
  };
  checkMilliseconds("timeoutMs", resolved.timeoutMs, 1);
  checkMilliseconds("startTimeoutMs", resolved.startTimeoutMs, 1);
  // 0 is valid for these two. A blocking wait of 0 ms never blocks the main thread, and a grace of 0 ms terminates workers at once after an abort.
  checkMilliseconds("blockingWaitMs", resolved.blockingWaitMs, 0);
  checkMilliseconds("stopGraceMs", resolved.stopGraceMs, 0);
  checkPositiveInteger("capacityBytes", resolved.capacityBytes);
  checkPositiveInteger("maxBindings", resolved.maxBindings);
  checkPositiveInteger("threads", resolved.threads);
  if (resolved.threads < devices) {
    throw new ValueError(
      `mesh option threads = ${resolved.threads} is too small: a mesh of ${devices} devices needs at least ${devices} worker threads, ` +
        `because each device's executor occupies one thread. Raise threads or use a smaller mesh`,
    );
  }
  return resolved;
}

function checkMilliseconds(name: string, value: unknown, min: number): void {
  if (typeof value === "number" && Number.isFinite(value) && value >= min && value <= maxMilliseconds) return;
  const range = min === 0 ? "a finite number of milliseconds from 0" : "a positive finite number of milliseconds";
  throw new ValueError(`mesh option ${name} = ${String(value)} is invalid; pass ${range} up to ${maxMilliseconds}`);
}

function checkPositiveInteger(name: string, value: unknown): void {
  if (typeof value === "number" && Number.isSafeInteger(value) && value > 0) return;
  throw new ValueError(`mesh option ${name} = ${String(value)} is invalid; pass a positive integer`);
}
