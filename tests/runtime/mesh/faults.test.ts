// Fault injection: a throwing step, a trapping kernel, a worker that exits or is terminated, and timeouts.

import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DeviceError, TimeoutError } from "../../../src/runtime/errors.js";
import type { DeviceProgram, Program, Step } from "../../../src/runtime/mesh/program.js";
import { MeshRuntime, scratchBytes } from "../../../src/runtime/mesh/runtime.js";
import { firstBitMismatch, randomStorage, runCollective } from "./helpers.js";
import { trapKernel } from "./kernels.js";

const n = 1031;
const sum = { kind: "allReduce", op: "sum", axes: ["data"], dtype: "float32", count: n, input: { binding: 0 }, output: { binding: 1 } } as const;

/** Builds a program where every device runs `sum` twice and device `faulty` runs `fault` between the two. */
function faultyProgram(devices: number, faulty: number, fault: Step, name: string): Program {
  const part = (device: number): DeviceProgram => ({
    inputs: 1, outputs: [4 * n], temps: [],
    steps: device === faulty ? [sum, fault, sum] : [sum, sum],
  });
  return { name, kernels: [trapKernel()], devices: Array.from({ length: devices }, (_, d) => part(d)) };
}

/** Runs `program` on seeded inputs, expects it to reject, and checks the inputs and memory are unchanged. */
async function expectFault(runtime: MeshRuntime, program: Program, seed: number, onStart?: () => void): Promise<DeviceError> {
  const inputs = runtime.memories.map((_, d) => randomStorage("float32", n, seed + d));
  const offsets = runtime.memories.map((memory, d) => memory.upload(inputs[d]));
  const inUse = runtime.memories.map((memory) => memory.bytesInUse);
  const handle = runtime.load(program);
  const run = runtime.run(handle, offsets.map((offset) => [offset]));
  onStart?.();
  const error = await run.then(
    () => undefined,
    (caught: unknown) => caught,
  );
  expect(error).toBeInstanceOf(DeviceError);
  runtime.memories.forEach((memory, d) => {
    expect(memory.bytesInUse, `device ${d} bytes in use after the failed run`).toBe(inUse[d]);
    expect(firstBitMismatch(memory.view("float32", offsets[d], n), inputs[d]), `device ${d} input after the failed run`).toBe(-1);
    memory.free(offsets[d]);
  });
  runtime.unload(handle);
  return error as DeviceError;
}

/** A normal allReduce must succeed after a fault, on replacement workers where needed. */
async function expectUsable(runtime: MeshRuntime, seed: number): Promise<void> {
  const { outputs, expected } = await runCollective(runtime, { kind: "allReduce", op: "sum", axes: ["data"], dtype: "float32", count: 4099 }, seed);
  outputs.forEach((output, d) => expect(firstBitMismatch(output, expected[d]), `device ${d} after the fault`).toBe(-1));
  expect(runtime.memories.map((memory) => memory.bytesInUse)).toEqual(runtime.memories.map(() => scratchBytes));
}

describe("faults on a [4] mesh", () => {
  let runtime: MeshRuntime;
  beforeAll(() => {
    runtime = new MeshRuntime([4], ["data"], { timeoutMs: 20_000 });
  });
  afterAll(async () => {
    await runtime.dispose();
  });

  it("reports a throwing step once, naming device, program and step", async () => {
    const error = await expectFault(runtime, faultyProgram(4, 1, { kind: "throw", message: "injected failure" }, "throws"), 1);
    expect(error).not.toBeInstanceOf(TimeoutError);
    expect(error.device).toBe(1);
    expect(error.program).toBe("throws");
    expect(error.step).toBe(1);
    expect(error.message).toMatch(/program "throws" failed on device 1 at step 1 \(throw\): Error: injected failure/);
    await expectUsable(runtime, 2);
  });

  it("reports a trapping kernel", async () => {
    const trap: Step = { kind: "kernel", kernel: trapKernel().key, entry: "run", args: [] };
    const error = await expectFault(runtime, faultyProgram(4, 2, trap, "traps"), 3);
    expect(error.device).toBe(2);
    expect(error.message).toMatch(/device 2 at step 1 \(kernel\): RuntimeError: memory access out of bounds/);
    await expectUsable(runtime, 4);
  });

  it("reports a worker that exits mid-program and replaces it", async () => {
    const threadBefore = runtime.threadOf(3);
    const error = await expectFault(runtime, faultyProgram(4, 3, { kind: "exit", code: 7 }, "exits"), 5);
    expect(error).not.toBeInstanceOf(TimeoutError);
    expect(error.device).toBe(3);
    expect(error.message).toMatch(/the worker of device 3 exited during step 1 \(exit\)/);
    await expectUsable(runtime, 6);
    expect(runtime.threadOf(3)).not.toBe(threadBefore);
  });

  it("reports a worker terminated mid-collective", async () => {
    // Device 0 sleeps before its second allReduce, so devices 1 to 3 wait in it when device 0's worker is terminated.
    const program = faultyProgram(4, 0, { kind: "sleep", ms: 10_000 }, "terminated");
    let terminated: Promise<number> | undefined;
    const error = await expectFault(runtime, program, 7, () => {
      terminated = waitForWaiting(runtime).then(() => {
        const worker = runtime.pool.threads.find((candidate) => candidate.threadId === runtime.threadOf(0));
        if (worker === undefined) throw new Error("worker of device 0 not found in the pool");
        return worker.terminate();
      });
    });
    await terminated;
    expect(error).not.toBeInstanceOf(TimeoutError);
    expect(error.device).toBe(0);
    expect(error.message).toMatch(/the worker of device 0 exited during step 1 \(sleep\)/);
    await expectUsable(runtime, 8);
  });
});

/** Waits until device 0's executor has started and the other devices had time to block in the second allReduce. */
async function waitForWaiting(runtime: MeshRuntime): Promise<void> {
  for (let attempt = 0; attempt < 50 && runtime.threadOf(0) === 0; attempt++) await new Promise((resolve) => setTimeout(resolve, 10));
  await new Promise((resolve) => setTimeout(resolve, 100));
}

describe("timeouts", () => {
  it("names the device that misses a barrier and replaces its worker", async () => {
    const runtime = new MeshRuntime([3], ["data"], { timeoutMs: 300, stopGraceMs: 200 });
    try {
      const error = await expectFault(runtime, faultyProgram(3, 2, { kind: "sleep", ms: 20_000 }, "late"), 9);
      expect(error).toBeInstanceOf(TimeoutError);
      expect(error.device).toBe(2);
      expect(error.step).toBe(1);
      expect(error.message).toMatch(/program "late" timed out after 300 ms: device 2 was still in step 1 \(sleep\) while device [01] waited for it at step 1 \(allReduce\); the worker of device 2 was terminated/);
      await expectUsable(runtime, 10);
    } finally {
      await runtime.dispose();
    }
  });

  it("names a device that does not finish a program without collectives", async () => {
    const runtime = new MeshRuntime([2], ["data"], { timeoutMs: 300, stopGraceMs: 200 });
    try {
      const idle: DeviceProgram = { inputs: 1, outputs: [4 * n], temps: [], steps: [] };
      const slow: DeviceProgram = { ...idle, steps: [{ kind: "sleep", ms: 20_000 }] };
      const error = await expectFault(runtime, { name: "slow", devices: [idle, slow] }, 11);
      expect(error).toBeInstanceOf(TimeoutError);
      expect(error.device).toBe(1);
      expect(error.message).toMatch(/program "slow": device 1 did not finish step 0 \(sleep\) within the 300 ms timeout; the worker of device 1 was terminated/);
      await expectUsable(runtime, 12);
    } finally {
      await runtime.dispose();
    }
  });
});

describe("fault isolation", () => {
  it("keeps collectives of later programs correct after several faults in a row", async () => {
    const runtime = new MeshRuntime([2], ["data"], { timeoutMs: 20_000 });
    try {
      for (let round = 0; round < 3; round++) {
        await expectFault(runtime, faultyProgram(2, round % 2, { kind: "throw", message: `round ${round}` }, `round-${round}`), 20 + round);
        await expectFault(runtime, faultyProgram(2, round % 2, { kind: "exit", code: 1 }, `exit-${round}`), 30 + round);
      }
      await expectUsable(runtime, 40);
    } finally {
      await runtime.dispose();
    }
  });
});
