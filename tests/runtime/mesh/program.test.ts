// Programs with kernels and collectives, program validation, pool sizing and the public DeviceMesh.

import { availableParallelism } from "node:os";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import * as nb from "../../../src/index.js";
import type { MeshOptions } from "../../../src/index.js";
import { DeviceError, ValueError } from "../../../src/runtime/errors.js";
import type { Program } from "../../../src/runtime/mesh/program.js";
import { MeshRuntime, scratchBytes } from "../../../src/runtime/mesh/runtime.js";
import { firstBitMismatch, randomStorage } from "./helpers.js";
import { affineKernel } from "./kernels.js";

/** Builds a program that maps each device's input with the affine kernel into a temporary, then all-reduces it. */
function affineThenSum(devices: number, n: number): Program {
  const kernel = affineKernel();
  const steps = [
    { kind: "kernel", kernel: kernel.key, entry: "run", args: [{ binding: 0 }, { binding: 2 }, n] },
    { kind: "allReduce", op: "sum", axes: ["data"], dtype: "float32", count: n, input: { binding: 2 }, output: { binding: 1 } },
  ] as const;
  return { name: "affine-then-sum", kernels: [kernel], devices: Array.from({ length: devices }, () => ({ inputs: 1, outputs: [4 * n], temps: [4 * n], steps })) };
}

describe("programs with kernels", () => {
  let runtime: MeshRuntime;
  beforeAll(() => {
    runtime = new MeshRuntime([3], ["data"]);
  });
  afterAll(async () => {
    await runtime.dispose();
  });

  it("runs a kernel then an allReduce with new inputs each run", async () => {
    const n = 1001;
    const handle = runtime.load(affineThenSum(3, n));
    for (let run = 0; run < 3; run++) {
      const inputs = runtime.memories.map((_, d) => randomStorage("float32", n, 100 * run + d) as Float32Array);
      const offsets = runtime.memories.map((memory, d) => memory.upload(inputs[d]));
      const outputs = await runtime.run(handle, offsets.map((offset) => [offset]));
      const expected = new Float32Array(n);
      for (let i = 0; i < n; i++) {
        const mapped = inputs.map((input) => Math.fround(Math.fround(2 * input[i]) + 1));
        expected[i] = Math.fround(Math.fround(mapped[0] + mapped[1]) + mapped[2]);
      }
      for (let d = 0; d < 3; d++) {
        expect(firstBitMismatch(runtime.memories[d].view("float32", outputs[d][0], n), expected), `run ${run} device ${d}`).toBe(-1);
        runtime.memories[d].free(outputs[d][0]);
        runtime.memories[d].free(offsets[d]);
      }
    }
    runtime.unload(handle);
    expect(runtime.memories.map((memory) => memory.bytesInUse)).toEqual([scratchBytes, scratchBytes, scratchBytes]);
  });

  it("reads results after device memory grows", async () => {
    const n = 600_000;
    const before = runtime.memories[0].bytesCommitted;
    const handle = runtime.load(affineThenSum(3, n));
    const offsets = runtime.memories.map((memory, d) => memory.upload(randomStorage("float32", n, d)));
    const outputs = await runtime.run(handle, offsets.map((offset) => [offset]));
    expect(runtime.memories[0].bytesCommitted).toBeGreaterThan(before);
    const views = runtime.memories.map((memory, d) => memory.view("float32", outputs[d][0], n));
    expect(firstBitMismatch(views[1], views[0])).toBe(-1);
    expect(firstBitMismatch(views[2], views[0])).toBe(-1);
    runtime.memories.forEach((memory, d) => {
      memory.free(outputs[d][0]);
      memory.free(offsets[d]);
    });
    runtime.unload(handle);
  });

  it("rejects a run after unload", async () => {
    const handle = runtime.load(affineThenSum(3, 4));
    runtime.unload(handle);
    await expect(runtime.run(handle, [[16], [16], [16]])).rejects.toThrow(/not loaded in this mesh/);
  });
});

describe("program validation", () => {
  let runtime: MeshRuntime;
  beforeAll(() => {
    runtime = new MeshRuntime([2, 2], ["data", "model"]);
  });
  afterAll(async () => {
    await runtime.dispose();
  });

  const step = { kind: "allReduce", op: "sum", axes: ["model"], dtype: "float32", count: 4, input: { binding: 0 }, output: { binding: 1 } } as const;
  const part = { inputs: 1, outputs: [16], temps: [], steps: [step] };

  it("rejects a wrong device count", () => {
    expect(() => runtime.load({ name: "short", devices: [part, part] })).toThrow(/2 device programs but the mesh has 4 devices/);
  });

  it("rejects an unknown axis", () => {
    const bad = { ...part, steps: [{ ...step, axes: ["pipeline"] }] };
    expect(() => runtime.load({ name: "axis", devices: [bad, bad, bad, bad] })).toThrow(/mesh axis "pipeline" not found; this mesh has axes \[data, model\]/);
  });

  it("rejects collectives that differ between devices", () => {
    const other = { ...part, outputs: [32], steps: [{ ...step, count: 8 }] };
    expect(() => runtime.load({ name: "mismatch", devices: [part, part, other, part] })).toThrow(ValueError);
    expect(() => runtime.load({ name: "mismatch", devices: [part, part, other, part] })).toThrow(/device 2 disagrees with device 0/);
  });

  it("rejects out-of-range bindings and kernels", () => {
    const binding = { ...part, steps: [{ ...step, output: { binding: 5 } }] };
    expect(() => runtime.load({ name: "binding", devices: [binding, binding, binding, binding] })).toThrow(/binding 5 is out of range; this device program has 2 bindings/);
    const kernel = { ...part, steps: [{ kind: "kernel", kernel: "missing", entry: "run", args: [] } as const] };
    expect(() => runtime.load({ name: "kernel", devices: [kernel, kernel, kernel, kernel] })).toThrow(/kernel "missing" is not in the program's kernels/);
  });

  it("rejects bad reduce dtypes and permute pairs", () => {
    const mean = { ...part, steps: [{ ...step, op: "mean", dtype: "int32" } as const] };
    expect(() => runtime.load({ name: "mean", devices: [mean, mean, mean, mean] })).toThrow(/mean needs a float dtype/);
    const permute = { ...part, steps: [{ kind: "permute", pairs: [[0, 1], [1, 1]], axes: ["model"], dtype: "float32", count: 4, input: { binding: 0 }, output: { binding: 1 } } as const] };
    expect(() => runtime.load({ name: "permute", devices: [permute, permute, permute, permute] })).toThrow(/receives at most once/);
  });

  it("rejects wrong input counts at run time", async () => {
    const handle = runtime.load({ name: "inputs", devices: [part, part, part, part] });
    await expect(runtime.run(handle, [[16], [16], [16]])).rejects.toThrow(/needs one input list per device \(4\), got 3/);
    await expect(runtime.run(handle, [[16], [16], [16], []])).rejects.toThrow(/device 3 takes 1 inputs, got 0/);
    runtime.unload(handle);
  });
});

describe("DeviceMesh", () => {
  it("rejects a pool smaller than the mesh", () => {
    expect(() => new MeshRuntime([4], ["data"], { threads: 2 })).toThrow(ValueError);
    expect(() => new MeshRuntime([4], ["data"], { threads: 2 })).toThrow(/mesh option threads = 2 is too small: a mesh of 4 devices needs at least 4 worker threads/);
  });

  it.each([
    ["timeoutMs", 0],
    ["timeoutMs", -5],
    ["timeoutMs", Number.NaN],
    ["timeoutMs", Number.POSITIVE_INFINITY],
    ["timeoutMs", "100"],
    ["startTimeoutMs", 0],
    ["blockingWaitMs", -1],
    ["stopGraceMs", 2 ** 40],
    ["threads", 2.5],
    ["maxBindings", 0],
    ["capacityBytes", -1],
  ])("rejects option %s = %j", (name, value) => {
    const options = { [name]: value } as MeshOptions;
    expect(() => new MeshRuntime([2], ["data"], options)).toThrow(ValueError);
    expect(() => new MeshRuntime([2], ["data"], options)).toThrow(new RegExp(`^mesh option ${name} = ${String(value)} is invalid; pass a`));
  });

  it("defaults to one data axis over the available cores", async () => {
    const mesh = new nb.DeviceMesh();
    try {
      expect(mesh.shape).toEqual([availableParallelism()]);
      expect(mesh.axisNames).toEqual(["data"]);
      expect(mesh.groups("data")).toEqual([Array.from({ length: availableParallelism() }, (_, d) => d)]);
    } finally {
      await mesh.dispose();
    }
  });

  it("numbers devices row-major and groups them per axis", async () => {
    await using mesh = new nb.DeviceMesh([2, 4], ["data", "model"]);
    expect(mesh.size).toBe(8);
    expect(mesh.coordinates(6)).toEqual([1, 2]);
    expect(mesh.groups("model")).toEqual([[0, 1, 2, 3], [4, 5, 6, 7]]);
    expect(mesh.groups("data")).toEqual([[0, 4], [1, 5], [2, 6], [3, 7]]);
    expect(mesh.groups(["model", "data"])).toEqual([[0, 4, 1, 5, 2, 6, 3, 7]]);
    expect(mesh.memory(7).device).toBe("cpu:7");
  });

  it("runs programs and rejects runs after dispose", async () => {
    const mesh = new nb.DeviceMesh([2], ["data"]);
    const handle = mesh.load(affineThenSum(2, 5));
    const offsets = [0, 1].map((d) => mesh.memory(d).upload(new Float32Array([1, 2, 3, 4, 5])));
    const outputs = await mesh.run(handle, offsets.map((offset) => [offset]));
    expect(Array.from(mesh.memory(1).view("float32", outputs[1][0], 5))).toEqual([6, 10, 14, 18, 22]);
    await mesh.dispose();
    await expect(mesh.run(handle, offsets.map((offset) => [offset]))).rejects.toThrow(/disposed/);
  });
});
