// Many multi-collective programs back to back on an [8] mesh, with device memory back to its start at the end.

import { describe, expect, it } from "vitest";
import type { DeviceProgram, Program } from "../../../src/runtime/mesh/program.js";
import { MeshRuntime, scratchBytes } from "../../../src/runtime/mesh/runtime.js";
import type { Storage } from "../../../src/runtime/storage.js";
import { expectedOutputs, firstBitMismatch, randomStorage } from "./helpers.js";

const devices = 8;
const axes = ["data"];

/**
 * reduceScatter then allGather (which equals an allReduce, bitwise, since both sum in rank order) into
 * output 0, and allToAll twice (which is the identity) into output 1.
 */
function chainProgram(block: number): Program {
  const bytes = devices * block * 4;
  const fields = { axes, dtype: "float32", count: block } as const;
  const part: DeviceProgram = {
    inputs: 1,
    outputs: [bytes, bytes],
    temps: [block * 4, bytes],
    steps: [
      { kind: "reduceScatter", op: "sum", ...fields, input: { binding: 0 }, output: { binding: 3 } },
      { kind: "allGather", ...fields, input: { binding: 3 }, output: { binding: 1 } },
      { kind: "allToAll", ...fields, input: { binding: 0 }, output: { binding: 4 } },
      { kind: "allToAll", ...fields, input: { binding: 4 }, output: { binding: 2 } },
    ],
  };
  return { name: `chain-${block}`, devices: Array.from({ length: devices }, () => part) };
}

function checkOutputs(runtime: MeshRuntime, block: number, inputs: readonly Storage[], outputs: readonly (readonly number[])[], label: string): void {
  const length = devices * block;
  const sums = expectedOutputs(runtime.topology, { kind: "allReduce", op: "sum", axes, dtype: "float32", count: length }, inputs);
  for (let d = 0; d < devices; d++) {
    const memory = runtime.memories[d];
    expect(firstBitMismatch(memory.view("float32", outputs[d][0], length), sums[d]), `${label} device ${d} sum`).toBe(-1);
    expect(firstBitMismatch(memory.view("float32", outputs[d][1], length), inputs[d]), `${label} device ${d} identity`).toBe(-1);
    outputs[d].forEach((offset) => memory.free(offset));
  }
}

describe("mesh stress", () => {
  it("runs 120 chained programs on [8] and frees every buffer", async () => {
    const runtime = new MeshRuntime([devices], axes, { capacityBytes: 64 * 2 ** 20 });
    try {
      const blocks = [1, 37, 515, 4099];
      const handles = blocks.map((block) => runtime.load(chainProgram(block)));
      const start = runtime.memories.map((memory) => memory.bytesInUse);
      // Pads of different sizes put each device's buffers at a different offset.
      const pads = runtime.memories.map((memory, d) => memory.alloc(16 + 80 * d));
      for (let iteration = 0; iteration < 120; iteration++) {
        const index = iteration % blocks.length;
        const block = blocks[index];
        const inputs = runtime.memories.map((_, d) => randomStorage("float32", devices * block, iteration * 100 + d));
        const offsets = runtime.memories.map((memory, d) => memory.upload(inputs[d]));
        const outputs = await runtime.run(handles[index], offsets.map((offset) => [offset]));
        checkOutputs(runtime, block, inputs, outputs, `iteration ${iteration}`);
        offsets.forEach((offset, d) => runtime.memories[d].free(offset));
      }
      pads.forEach((pad, d) => runtime.memories[d].free(pad));
      expect(runtime.memories.map((memory) => memory.bytesInUse)).toEqual(start);
    } finally {
      await runtime.dispose();
    }
  });

  it("queues runs issued together and runs them in order", async () => {
    const runtime = new MeshRuntime([devices], axes);
    try {
      const block = 13;
      const handle = runtime.load(chainProgram(block));
      const inputs = Array.from({ length: 16 }, (_, run) => runtime.memories.map((_, d) => randomStorage("float32", devices * block, 7000 + run * 10 + d)));
      const offsets = inputs.map((list) => list.map((input, d) => runtime.memories[d].upload(input)));
      const results = await Promise.all(offsets.map((list) => runtime.run(handle, list.map((offset) => [offset]))));
      results.forEach((outputs, run) => checkOutputs(runtime, block, inputs[run], outputs, `run ${run}`));
      offsets.forEach((list) => list.forEach((offset, d) => runtime.memories[d].free(offset)));
      expect(runtime.memories.map((memory) => memory.bytesInUse)).toEqual(runtime.memories.map(() => scratchBytes));
    } finally {
      await runtime.dispose();
    }
  });
});
