// Shared helpers for mesh tests: seeded inputs, main-thread references of every collective, and runners.

import { collectiveProgram, collectiveSizes, type CollectiveSpec } from "../../../src/runtime/mesh/builders.js";
import type { ReduceOp } from "../../../src/runtime/mesh/program.js";
import type { MeshRuntime } from "../../../src/runtime/mesh/runtime.js";
import type { MeshTopology } from "../../../src/runtime/mesh/topology.js";
import { allocate, type Storage, type StorageDType } from "../../../src/runtime/storage.js";
import { Rng } from "../../support/random.js";

/** Seeded values that are never all zero: floats in [-8, 8) with a spread of magnitudes, or small ints. */
export function randomStorage(dtype: StorageDType, length: number, seed: number): Storage {
  const rng = new Rng(seed);
  const data = allocate(dtype, length);
  for (let i = 0; i < length; i++) {
    data[i] = dtype === "bool" ? rng.int(0, 2) : dtype === "int32" ? rng.int(-1000, 1000) : rng.uniform(-8, 8) * 2 ** rng.int(-6, 6);
  }
  return data;
}

/** Rounds a float64 result to `dtype`, as storing it in that dtype's typed array does. */
function round(dtype: StorageDType, value: number): number {
  if (dtype === "float32") return Math.fround(value);
  if (dtype === "int32") return value | 0;
  return value;
}

function combine(op: ReduceOp, a: number, b: number): number {
  switch (op) {
    case "sum":
    case "mean":
      return a + b;
    case "max":
      return Math.max(a, b);
    case "min":
      return Math.min(a, b);
    default:
      return op satisfies never;
  }
}

/** Reduction over ranks in order 0..p-1, rounding after each step, of `count` elements starting at `start`. */
function reduceReference(op: ReduceOp, dtype: StorageDType, inputs: readonly Storage[], start: number, count: number): Storage {
  const out = allocate(dtype, count);
  for (let i = 0; i < count; i++) {
    let acc = inputs[0][start + i];
    for (let q = 1; q < inputs.length; q++) acc = round(dtype, combine(op, acc, inputs[q][start + i]));
    out[i] = op === "mean" ? round(dtype, acc / inputs.length) : acc;
  }
  return out;
}

/** Expected output of one device for a collective, given every group member's input in rank order. */
export function referenceOutput(spec: CollectiveSpec, dtype: StorageDType, inputs: readonly Storage[], rank: number): Storage {
  const p = inputs.length;
  const n = spec.count;
  switch (spec.kind) {
    case "allReduce":
      return reduceReference(spec.op, dtype, inputs, 0, n);
    case "reduceScatter":
      return reduceReference(spec.op, dtype, inputs, rank * n, n);
    case "allGather": {
      const out = allocate(dtype, p * n);
      inputs.forEach((input, s) => out.set(input.subarray(0, n), s * n));
      return out;
    }
    case "allToAll": {
      const out = allocate(dtype, p * n);
      inputs.forEach((input, s) => out.set(input.subarray(rank * n, rank * n + n), s * n));
      return out;
    }
    case "broadcast":
      return inputs[spec.root].slice(0, n);
    case "permute": {
      const pair = spec.pairs.find(([, target]) => target === rank);
      return pair === undefined ? allocate(dtype, n) : inputs[pair[0]].slice(0, n);
    }
    default:
      return spec satisfies never;
  }
}

/** Index of the first element whose bits differ, or -1; bitwise so NaN and -0 compare exactly. */
export function firstBitMismatch(actual: Storage, expected: Storage): number {
  if (actual.length !== expected.length) return Math.min(actual.length, expected.length);
  const a = new Uint8Array(actual.buffer, actual.byteOffset, actual.byteLength);
  const b = new Uint8Array(expected.buffer, expected.byteOffset, expected.byteLength);
  const size = actual.BYTES_PER_ELEMENT;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return Math.floor(i / size);
  return -1;
}

export interface CollectiveRun {
  readonly inputs: Storage[];
  readonly outputs: Storage[];
  readonly expected: Storage[];
}

/**
 * Uploads seeded inputs, runs `spec` as a one-step program, copies out every device's output and its
 * reference, and frees every buffer, so the mesh's memory is back where it started.
 */
export async function runCollective(runtime: MeshRuntime, spec: CollectiveSpec, seed: number): Promise<CollectiveRun> {
  const topology = runtime.topology;
  const dtype = spec.dtype;
  const groupSize = topology.groupOf(0, spec.axes).members.length;
  const sizes = collectiveSizes(spec, groupSize);
  const inputs = runtime.memories.map((_, d) => randomStorage(dtype, sizes.input, seed * 1000 + d));
  // Pads of different sizes put each device's buffers at a different offset, as in real programs.
  const pads = runtime.memories.map((memory, d) => memory.alloc(16 + 48 * d));
  const offsets = runtime.memories.map((memory, d) => memory.upload(inputs[d]));
  const program = runtime.load(collectiveProgram(topology, spec));
  try {
    const outputOffsets = await runtime.run(program, offsets.map((offset) => [offset]));
    const outputs = runtime.memories.map((memory, d) => memory.read(dtype, outputOffsets[d][0], sizes.output));
    outputOffsets.forEach((list, d) => runtime.memories[d].free(list[0]));
    return { inputs, outputs, expected: expectedOutputs(topology, spec, inputs) };
  } finally {
    runtime.unload(program);
    offsets.forEach((offset, d) => runtime.memories[d].free(offset));
    pads.forEach((pad, d) => runtime.memories[d].free(pad));
  }
}

export function expectedOutputs(topology: MeshTopology, spec: CollectiveSpec, inputs: readonly Storage[]): Storage[] {
  return inputs.map((_, d) => {
    const group = topology.groupOf(d, spec.axes);
    return referenceOutput(spec, spec.dtype, group.members.map((member) => inputs[member]), group.rank);
  });
}
