// Buffer bounds of mesh programs: collective extents against output, temporary and input sizes, and
// rejected reduce ops and dtypes.

import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DTypeError, ValueError } from "../../../src/runtime/errors.js";
import { collectiveProgram, collectiveSizes, type CollectiveSpec } from "../../../src/runtime/mesh/builders.js";
import type { DeviceProgram, Program, Step } from "../../../src/runtime/mesh/program.js";
import { MeshRuntime, scratchBytes } from "../../../src/runtime/mesh/runtime.js";
import type { MeshTopology } from "../../../src/runtime/mesh/topology.js";
import { firstBitMismatch, randomStorage } from "./helpers.js";
import { affineKernel } from "./kernels.js";

const count = 8;
const specs: CollectiveSpec[] = [
  { kind: "allReduce", op: "sum", axes: ["data"], dtype: "float32", count },
  { kind: "allGather", axes: ["data"], dtype: "float32", count },
  { kind: "reduceScatter", op: "max", axes: ["data"], dtype: "float32", count },
  { kind: "allToAll", axes: ["data"], dtype: "float32", count },
  { kind: "broadcast", root: 1, axes: ["data"], dtype: "float32", count },
  { kind: "permute", pairs: [[0, 1], [1, 0]], axes: ["data"], dtype: "float32", count },
];

/** Builds a program that runs `part` on both devices of a [2] mesh. */
function onBoth(name: string, part: DeviceProgram, kernels?: Program["kernels"]): Program {
  return { name, kernels, devices: [part, part] };
}

/** `spec` as a one-step program whose output or input is one float short of what the collective needs. */
function shortProgram(topology: MeshTopology, spec: CollectiveSpec, short: "output" | "temporary"): Program {
  const sizes = collectiveSizes(spec, 2);
  const program = collectiveProgram(topology, spec);
  const part = program.devices[0];
  const step = part.steps[0] as Step & { input: unknown; output: unknown };
  if (short === "output") return onBoth(program.name, { ...part, outputs: [4 * (sizes.output - 1)] });
  // The input comes from a temporary one float short; binding 0 is the input, 1 the output, 2 the temporary.
  return onBoth(program.name, { ...part, temps: [4 * (sizes.input - 1)], steps: [{ ...step, input: { binding: 2 } } as Step] });
}

describe("buffer bounds on a [2] mesh", () => {
  let runtime: MeshRuntime;
  beforeAll(() => {
    runtime = new MeshRuntime([2], ["data"]);
  });
  afterAll(async () => {
    await runtime.dispose();
  });

  it.each(specs.map((spec) => [spec.kind, spec] as const))("%s rejects a short output at load", (_, spec) => {
    const needed = 4 * collectiveSizes(spec, 2).output;
    expect(() => runtime.load(shortProgram(runtime.topology, spec, "output"))).toThrow(ValueError);
    expect(() => runtime.load(shortProgram(runtime.topology, spec, "output"))).toThrow(
      new RegExp(`device 0 step 0: ${spec.kind} with count 8 writes \\d+ float32 elements \\(${needed} bytes\\) at byte offset 0 of binding 1 \\(output 0\\), which has ${needed - 4} bytes`),
    );
  });

  it.each(specs.map((spec) => [spec.kind, spec] as const))("%s rejects a short temporary input at load", (_, spec) => {
    const needed = 4 * collectiveSizes(spec, 2).input;
    expect(() => runtime.load(shortProgram(runtime.topology, spec, "temporary"))).toThrow(
      new RegExp(`reads \\d+ float32 elements \\(${needed} bytes\\) at byte offset 0 of binding 2 \\(temporary 0\\), which has ${needed - 4} bytes; make that buffer at least ${needed} bytes`),
    );
  });

  it("rejects an output offset past the end", () => {
    const step = { kind: "allReduce", op: "sum", axes: ["data"], dtype: "float32", count, input: { binding: 0 }, output: { binding: 1, offset: 16 } } as const;
    const program = onBoth("offset", { inputs: 1, outputs: [4 * count + 8], temps: [], steps: [step] });
    expect(() => runtime.load(program)).toThrow(/at byte offset 16 of binding 1 \(output 0\), which has 40 bytes; make that buffer at least 48 bytes/);
  });

  it("rejects a kernel argument past a temporary at load", () => {
    const kernel = affineKernel();
    const step = { kind: "kernel", kernel: kernel.key, entry: "run", args: [{ binding: 0 }, { binding: 1, offset: 32 }, 1] } as const;
    const program = onBoth("kernel-temp", { inputs: 1, outputs: [], temps: [32], steps: [step] }, [kernel]);
    expect(() => runtime.load(program)).toThrow(/kernel "[^"]+" argument 1 points at byte offset 32 of binding 1 \(temporary 0\), which has 32 bytes; make that buffer at least 33 bytes or pass an offset inside it/);
  });

  it.each(specs.map((spec) => [spec.kind, spec] as const))("%s rejects a short input at run", async (_, spec) => {
    const elements = collectiveSizes(spec, 2).input;
    const handle = runtime.load(collectiveProgram(runtime.topology, spec));
    // Inputs are 4 floats (one 16-byte allocation) short, and a live neighbour buffer follows each one.
    const inputs = runtime.memories.map((memory) => memory.upload(randomStorage("float32", elements - 4, 1)));
    const neighbours = runtime.memories.map((memory, d) => memory.upload(randomStorage("float32", 16, 10 + d)));
    const before = runtime.memories.map((memory, d) => memory.read("float32", neighbours[d], 16));
    const inUse = runtime.memories.map((memory) => memory.bytesInUse);
    const run = runtime.run(handle, inputs.map((offset) => [offset]));
    await expect(run).rejects.toThrow(ValueError);
    await expect(run).rejects.toThrow(new RegExp(`program "${spec.kind}" device 0 step 0: ${spec.kind} with count 8 reads ${elements} float32 elements \\(${4 * elements} bytes\\) at byte offset 0 of input binding 0, which starts at byte ${inputs[0]} of cpu:0, but the live allocation there ends at byte ${inputs[0] + 4 * elements - 16}, 16 bytes short`));
    runtime.memories.forEach((memory, d) => {
      expect(memory.bytesInUse, `device ${d} bytes in use`).toBe(inUse[d]);
      expect(firstBitMismatch(memory.view("float32", neighbours[d], 16), before[d]), `device ${d} neighbour`).toBe(-1);
      memory.free(inputs[d]);
      memory.free(neighbours[d]);
    });
    runtime.unload(handle);
  });

  it("rejects an input outside allocations", async () => {
    const spec = specs[0];
    const handle = runtime.load(collectiveProgram(runtime.topology, spec));
    const inputs = runtime.memories.map((memory) => memory.alloc(4 * count));
    runtime.memories[1].free(inputs[1]);
    await expect(runtime.run(handle, inputs.map((offset) => [offset]))).rejects.toThrow(
      new RegExp(`device 1 step 0: input binding 0 is byte offset ${inputs[1]} of cpu:1, which is not inside any live allocation`),
    );
    runtime.memories[0].free(inputs[0]);
    runtime.unload(handle);
  });

  it("accepts an input inside an allocation", async () => {
    const spec = specs[0];
    const handle = runtime.load(collectiveProgram(runtime.topology, spec));
    const data = runtime.memories.map((_, d) => randomStorage("float32", 3 * count, 20 + d) as Float32Array);
    const buffers = runtime.memories.map((memory, d) => memory.upload(data[d]));
    const outputs = await runtime.run(handle, buffers.map((offset) => [offset + 4 * count]));
    const expected = data[0].slice(count, 2 * count).map((value, i) => Math.fround(value + data[1][count + i]));
    expect(firstBitMismatch(runtime.memories[1].view("float32", outputs[1][0], count), expected)).toBe(-1);
    await expect(runtime.run(handle, buffers.map((offset) => [offset + 8 * count + 4]))).rejects.toThrow(/4 bytes short/);
    runtime.memories.forEach((memory, d) => {
      memory.free(outputs[d][0]);
      memory.free(buffers[d]);
    });
    runtime.unload(handle);
  });

  it("rejects a kernel argument past an input at run", async () => {
    const kernel = affineKernel();
    const step = { kind: "kernel", kernel: kernel.key, entry: "run", args: [{ binding: 0, offset: 64 }, { binding: 1 }, 1] } as const;
    const handle = runtime.load(onBoth("kernel-input", { inputs: 1, outputs: [16], temps: [], steps: [step] }, [kernel]));
    const inputs = runtime.memories.map((memory) => memory.alloc(64));
    await expect(runtime.run(handle, inputs.map((offset) => [offset]))).rejects.toThrow(
      /kernel "[^"]+" argument 0 points at byte offset 64 of input binding 0, .* 1 bytes short; pass a larger input buffer or an offset inside it/,
    );
    inputs.forEach((offset, d) => runtime.memories[d].free(offset));
    runtime.unload(handle);
    expect(runtime.memories.map((memory) => memory.bytesInUse)).toEqual([scratchBytes, scratchBytes]);
  });
});

describe("reduce ops and dtypes", () => {
  let runtime: MeshRuntime;
  beforeAll(() => {
    runtime = new MeshRuntime([2], ["data"]);
  });
  afterAll(async () => {
    await runtime.dispose();
  });

  const base = { axes: ["data"], dtype: "float32", count, input: { binding: 0 }, output: { binding: 1 } };

  it.each([
    ["allReduce", "prod", '"prod"'],
    ["allReduce", "SUM", '"SUM"'],
    ["reduceScatter", undefined, "\\(missing\\)"],
  ])("%s rejects op %j at load", (kind, op, shown) => {
    const step = { ...base, kind, op } as unknown as Step;
    const program = onBoth("bad-op", { inputs: 1, outputs: [4 * 2 * count], temps: [], steps: [step] });
    expect(() => runtime.load(program)).toThrow(ValueError);
    expect(() => runtime.load(program)).toThrow(new RegExp(`device 0 step 0: ${kind} op ${shown} is not a reduce op; use one of sum, max, min, mean`));
  });

  it.each(["allReduce", "allGather", "broadcast"])("%s rejects dtype float16 at load", (kind) => {
    const step = { ...base, kind, op: "sum", root: 0, dtype: "float16" } as unknown as Step;
    const program = onBoth("bad-dtype", { inputs: 1, outputs: [4 * 2 * count], temps: [], steps: [step] });
    expect(() => runtime.load(program)).toThrow(DTypeError);
    expect(() => runtime.load(program)).toThrow(new RegExp(`${kind} dtype "float16" is not supported; use one of float32, float64, int32, bool`));
  });
});
