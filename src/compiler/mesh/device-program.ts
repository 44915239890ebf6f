// From a lowered local program to the mesh runtime's device program: every buffer becomes an input,
// output or temporary binding or a fixed constant, and steps become plain data a worker can run.

import { sizeOf } from "../../core/shape.js";
import { ValueError } from "../../runtime/errors.js";
import type { DeviceMemory } from "../../runtime/device/memory.js";
import type { DeviceProgram, Operand, Step as MeshStep } from "../../runtime/mesh/program.js";
import { allocate, itemSize, type Storage } from "../../runtime/storage.js";
import type { CompiledKernel } from "../../runtime/wasm/kernel.js";
import { copyKernel } from "../../runtime/wasm/layout/copy.js";
import { planMemory } from "../wasm/memory-plan.js";
import { allocationAlignment } from "../../runtime/device/allocator.js";
import type { ProgramBuilder } from "../wasm/builder.js";
import type { BufferRef, ReferenceStep, Step } from "../wasm/steps.js";
import type { LoweredLocal } from "./lower-local.js";

/** The location of a builder buffer on the device: a byte offset in a binding, or a fixed address. */
type Placement = { readonly kind: "binding"; readonly binding: number; readonly offset: number } | { readonly kind: "fixed"; readonly address: number };

/** Byte offsets of several buffers packed into one binding, each aligned like an allocation. */
export interface PackedLayout {
  readonly offsets: readonly number[];
  readonly bytes: number;
}

// Bindings of every device program: all inputs in one block, all outputs in another, and the arena.
const inputBinding = 0;
const outputBinding = 1;
const arenaBinding = 2;

export interface DevicePart {
  readonly program: DeviceProgram;
  readonly kernels: readonly CompiledKernel[];
  /** Byte offsets of the constants placed in device memory; free them when the program is dropped. */
  readonly constants: readonly number[];
  /** Offsets of the inputs in the input block. */
  readonly inputs: PackedLayout;
  /** Offsets of the outputs in the output block. */
  readonly outputs: PackedLayout;
  /** Element count of each output, in output order. */
  readonly outputLengths: readonly number[];
}

function pack(sizes: readonly number[]): PackedLayout {
  const offsets: number[] = [];
  let bytes = 0;
  for (const size of sizes) {
    offsets.push(bytes);
    bytes += Math.ceil(Math.max(size, 1) / allocationAlignment) * allocationAlignment;
  }
  return { offsets, bytes };
}

/**
 * Builds the device program. Constants are uploaded to `memory` now and stay there; their offsets are
 * returned so the owner can free them.
 */
export function toDeviceProgram(lowered: LoweredLocal, memory: DeviceMemory, label: string): DevicePart {
  const { builder } = lowered;
  const constants = new Map(lowered.constants);
  foldEmptyReferences(builder, constants, label);
  const outputs = claimOutputs(lowered);

  const placements = new Map<number, Placement>();
  const inputs = pack(lowered.inputBuffers.map((buffer) => builder.buffers[buffer].bytes));
  lowered.inputBuffers.forEach((buffer, i) => placements.set(buffer, { kind: "binding", binding: inputBinding, offset: inputs.offsets[i] }));
  const outputLayout = pack(outputs.map((buffer) => builder.buffers[buffer].bytes));
  outputs.forEach((buffer, j) => placements.set(buffer, { kind: "binding", binding: outputBinding, offset: outputLayout.offsets[j] }));
  const fixed: number[] = [];
  for (const [buffer, data] of constants) {
    const address = memory.upload(data);
    fixed.push(address);
    placements.set(buffer, { kind: "fixed", address });
  }

  const arena = builder.buffers.flatMap((_, i) => (placements.has(i) ? [] : [i]));
  const plan = planMemory(arena.map((i) => builder.buffers[i]));
  arena.forEach((buffer, k) => placements.set(buffer, { kind: "binding", binding: arenaBinding, offset: plan.offsets[k] }));

  const operand = (ref: BufferRef): Operand => {
    const place = placements.get(ref.buffer) as Placement;
    const bytes = ref.elementOffset * itemSize(ref.dtype);
    return place.kind === "fixed" ? place.address + bytes : { binding: place.binding, offset: place.offset + bytes };
  };

  const kernels = new Map<string, CompiledKernel>();
  const steps = builder.steps.flatMap((step) => meshSteps(step, operand, kernels));
  const program: DeviceProgram = { inputs: 1, outputs: [outputLayout.bytes], temps: [Math.max(plan.arenaBytes, 1)], steps };
  const outputLengths = lowered.outputs.map(({ aval }) => sizeOf(aval.shape));
  return { program, kernels: [...kernels.values()], constants: fixed, inputs, outputs: outputLayout, outputLengths };
}

function meshSteps(step: Step, operand: (ref: BufferRef) => Operand, kernels: Map<string, CompiledKernel>): MeshStep[] {
  switch (step.kind) {
    case "kernel": {
      kernels.set(step.kernel.key, step.kernel);
      const args = step.args.map((arg) => (typeof arg === "number" ? arg : operand(arg)));
      const check = step.indexCheck === undefined ? undefined : { ...step.indexCheck, indices: operand(step.indexCheck.indices) };
      return [{ kind: "kernel", kernel: step.kernel.key, entry: "run", args, ...(check === undefined ? {} : { check }) }];
    }
    case "collective":
      return [{ ...step.spec, input: operand(step.input), output: operand(step.output) } as MeshStep];
    case "upload":
    case "reference":
      return [];
    default:
      return step satisfies never;
  }
}

/**
 * Turns reference steps whose inputs are all empty (reductions and products over empty shards) into
 * constants, because their result does not depend on any data. Steps with an empty result need
 * nothing, and meshSteps skips them. Any other reference step raises.
 */
function foldEmptyReferences(builder: ProgramBuilder, constants: Map<number, Storage>, label: string): void {
  const steps = builder.steps;
  for (let i = 0; i < steps.length; i++) {
    const step = steps[i];
    if (step.kind !== "reference") continue;
    if (builder.buffers[step.target.buffer].bytes === 0) continue;
    if (step.inputs.some((input) => input.length > 0)) {
      throw new ValueError(`${label}: ${step.label} on ${describeInputs(step)} has no WebAssembly kernel, so it cannot run on a mesh; use float32 data or run it on one device`);
    }
    constants.set(step.target.buffer, step.run(step.inputs.map(({ ref }) => allocate(ref.dtype, 0))));
  }
}

function describeInputs(step: ReferenceStep): string {
  return step.inputs.map(({ ref, length }) => `${ref.dtype}[${length}]`).join(", ");
}

/**
 * Picks the buffer each output is returned in: the output value's own buffer when it contains exactly
 * that value, otherwise a new buffer the value is copied into (inputs, constants, shared buffers and
 * views into buckets all need the copy).
 */
function claimOutputs(lowered: LoweredLocal): number[] {
  const { builder } = lowered;
  const taken = new Set<number>([...lowered.inputBuffers, ...lowered.constants.keys()]);
  return lowered.outputs.map(({ value, aval }) => {
    const count = sizeOf(aval.shape);
    const exact = value.view.offset === 0 && builder.buffers[value.buffer].bytes === count * itemSize(value.dtype);
    if (!taken.has(value.buffer) && exact) {
      taken.add(value.buffer);
      builder.buffers[value.buffer].lastStep = Infinity;
      return value.buffer;
    }
    const target = builder.newBuffer(value.dtype, count);
    if (count > 0) {
      const kernel = copyKernel({ shape: [count], dtype: value.dtype, srcStrides: [1], dstStrides: [1] });
      builder.steps.push({ kind: "kernel", label: "output copy", kernel: kernel.kernel, args: [builder.ref(value.buffer, value.view.offset, value.dtype), builder.ref(target, 0, value.dtype)] });
    }
    builder.buffers[target].lastStep = Infinity;
    taken.add(target);
    return target;
  });
}
