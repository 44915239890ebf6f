// Byte extents that steps read and write through binding operands, checked against buffer sizes so that
// no step touches memory outside the buffer its operand names.

import type { DeviceMemory } from "../device/memory.js";
import { ValueError } from "../errors.js";
import { itemSize } from "../storage.js";
import { collectiveSizes } from "./builders.js";
import { isCollective, type CollectiveStep, type DeviceProgram, type Step } from "./program.js";
import type { MeshTopology } from "./topology.js";

/** The bytes one step may touch through one binding operand. */
export interface BindingUse {
  readonly step: number;
  readonly binding: number;
  /** The operand's byte offset into the binding. */
  readonly offset: number;
  /**
   * Byte offset into the binding where the touched range ends. A kernel argument passes only an address,
   * so its end is offset + 1: the address must lie inside the buffer.
   */
  readonly end: number;
  readonly kernelArgument: boolean;
  /** Description of the access for errors, such as "allReduce with count 8 reads 8 float32 elements (32 bytes)". */
  readonly action: string;
}

/**
 * Checks every use of an output or temporary binding against its byte size, and returns the use that
 * reaches furthest into each input binding, which run checks against the caller's buffers.
 */
export function checkExtents(name: string, device: number, program: DeviceProgram, topology: MeshTopology): BindingUse[] {
  const sizes = [...program.outputs, ...program.temps];
  const furthest = new Map<number, BindingUse>();
  program.steps.forEach((step, index) => {
    for (const use of bindingUses(step, index, topology, device)) {
      if (use.binding >= program.inputs) checkSized(name, device, use, program.inputs, sizes, program.outputs.length);
      else if (use.end > (furthest.get(use.binding)?.end ?? 0)) furthest.set(use.binding, use);
    }
  });
  return [...furthest.values()];
}

/**
 * Checks that each input use fits inside one live allocation of `memory`, starting at the input's byte
 * offset in `inputs`. The allocation may be larger than requested, because alloc rounds up to 16 bytes.
 */
export function checkInputExtents(name: string, device: number, memory: DeviceMemory, inputs: readonly number[], uses: readonly BindingUse[]): void {
  for (const use of uses) {
    const base = inputs[use.binding];
    const where = `program "${name}" device ${device} step ${use.step}`;
    const allocation = Number.isInteger(base) ? memory.allocationContaining(base) : undefined;
    if (allocation === undefined) {
      throw new ValueError(
        `${where}: input binding ${use.binding} is byte offset ${base} of ${memory.device}, which is not inside any live allocation; ` +
          `pass an offset that alloc or upload returned on that device's memory`,
      );
    }
    const allocationEnd = allocation.offset + allocation.bytes;
    if (base + use.end <= allocationEnd) continue;
    throw new ValueError(
      `${where}: ${use.action} at byte offset ${use.offset} of input binding ${use.binding}, which starts at byte ${base} of ${memory.device}, ` +
        `but the live allocation there ends at byte ${allocationEnd}, ${base + use.end - allocationEnd} bytes short; ` +
        `pass a larger input buffer or ${use.kernelArgument ? "an offset inside it" : "lower count"}`,
    );
  }
}

function checkSized(name: string, device: number, use: BindingUse, inputs: number, sizes: readonly number[], outputs: number): void {
  const index = use.binding - inputs;
  const bytes = sizes[index];
  // An empty buffer still gets a 16-byte allocation, so a kernel may take its address.
  if (use.end <= (use.kernelArgument ? Math.max(bytes, 1) : bytes)) return;
  const role = index < outputs ? `output ${index}` : `temporary ${index - outputs}`;
  throw new ValueError(
    `program "${name}" device ${device} step ${use.step}: ${use.action} at byte offset ${use.offset} of binding ${use.binding} ` +
      `(${role}), which has ${bytes} bytes; make that buffer at least ${use.end} bytes or ${use.kernelArgument ? "pass an offset inside it" : "lower count"}`,
  );
}

/**
 * Lists the binding operands of `step` with the bytes the step touches through each.
 * NOTE: fixed byte-offset operands name no buffer, so nothing checks what a step touches through them.
 */
function bindingUses(step: Step, index: number, topology: MeshTopology, device: number): BindingUse[] {
  if (step.kind === "kernel") {
    return step.args.flatMap((arg, position) => {
      if (typeof arg === "number") return [];
      const offset = arg.offset ?? 0;
      return [{ step: index, binding: arg.binding, offset, end: offset + 1, kernelArgument: true, action: `kernel "${step.kernel}" argument ${position} points` }];
    });
  }
  if (!isCollective(step)) return [];
  const elements = collectiveSizes(step, topology.groupOf(device, step.axes).members.length);
  return [collectiveUse(step, index, "input", elements.input), collectiveUse(step, index, "output", elements.output)].filter((use) => use !== undefined);
}

function collectiveUse(step: CollectiveStep, index: number, role: "input" | "output", elements: number): BindingUse | undefined {
  const operand = step[role];
  const bytes = elements * itemSize(step.dtype);
  if (typeof operand === "number" || bytes === 0) return undefined;
  const offset = operand.offset ?? 0;
  const verb = role === "input" ? "reads" : "writes";
  return { step: index, binding: operand.binding, offset, end: offset + bytes, kernelArgument: false, action: `${step.kind} with count ${step.count} ${verb} ${elements} ${step.dtype} elements (${bytes} bytes)` };
}
