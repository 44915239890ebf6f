// The SPMD program checker: the invariants every pass over an SpmdProgram must keep, for tests and debugging.

import { InternalError } from "../runtime/errors.js";
import { isCollective, stepInputs, stepOutputs, type LocalProgram, type LocalStep, type SpmdProgram } from "./program.js";

/** Describes what every device must agree on at one step: its kind, slots and collective fields. */
function stepSignature(step: LocalStep): string {
  const slots = `${stepInputs(step).join(",")}->${stepOutputs(step).join(",")}`;
  switch (step.kind) {
    case "compute":
    case "fill":
      // A reduction over an empty shard is a fill, without inputs, on some devices and a compute on others.
      return `${step.label} ->${step.output}`;
    case "allReduce":
      return `allReduce ${step.op} [${step.axes.join(",")}] ${slots}`;
    case "reduceScatter":
      return `reduceScatter ${step.op} ${step.axis} dim ${step.dim} ${slots}`;
    case "allGather":
    case "split":
      return `${step.kind} ${step.axis} dim ${step.dim} ${slots}`;
    case "allToAll":
      return `allToAll ${step.axis} ${step.gatherDim}->${step.splitDim} ${slots}`;
    case "permute":
      return `permute ${step.axis} ${JSON.stringify(step.pairs)} ${slots}`;
    case "constant":
      return `constant ${slots}`;
    default:
      return step satisfies never;
  }
}

/** Checks that `local` writes each slot once, before any read, and writes its outputs. */
function checkDataflow(local: LocalProgram): void {
  const where = `device ${local.device}`;
  const written = new Set<number>();
  const writeSlot = (slot: number, writer: string): void => {
    if (!Number.isInteger(slot) || slot < 0 || slot >= local.slotCount) throw new InternalError(`${where}: ${writer} uses slot ${slot}, outside [0, ${local.slotCount})`);
    if (written.has(slot)) throw new InternalError(`${where}: ${writer} writes slot ${slot} a second time`);
    written.add(slot);
  };
  local.inputSlots.forEach((slot, i) => writeSlot(slot, `input ${i}`));
  local.steps.forEach((step, i) => {
    for (const slot of stepInputs(step)) {
      if (!written.has(slot)) throw new InternalError(`${where}: step ${i} (${stepSignature(step)}) reads slot ${slot} before it is written`);
    }
    for (const slot of stepOutputs(step)) writeSlot(slot, `step ${i} (${stepSignature(step)})`);
    if (isCollective(step) && step.group.members[step.group.rank] !== local.device) {
      throw new InternalError(`${where}: step ${i} (${stepSignature(step)}) has group [${step.group.members.join(", ")}] with rank ${step.group.rank}, which is not this device`);
    }
  });
  local.outputSlots.forEach((slot, i) => {
    if (!written.has(slot)) throw new InternalError(`${where}: output ${i} reads slot ${slot}, which no step writes`);
  });
}

/**
 * Checks the invariants of an SPMD program: one local program per mesh device, the same step structure
 * (kinds, slots and collective fields) on every device, and slots written once before they are read.
 * Raises an InternalError naming the device and step that breaks one.
 */
export function checkSpmdProgram(program: SpmdProgram): void {
  const deviceCount = program.mesh.shape.reduce((a, b) => a * b, 1);
  if (program.devices.length !== deviceCount) {
    throw new InternalError(`SPMD program has ${program.devices.length} local programs for a mesh of ${deviceCount} devices`);
  }
  const [first] = program.devices;
  const signature = first.steps.map(stepSignature);
  program.devices.forEach((local, device) => {
    if (local.device !== device) throw new InternalError(`local program ${device} is labelled device ${local.device}`);
    if (local.slotCount !== first.slotCount || local.steps.length !== first.steps.length) {
      throw new InternalError(`device ${device} has ${local.steps.length} steps over ${local.slotCount} slots, device 0 has ${first.steps.length} over ${first.slotCount}`);
    }
    if (local.inputSlots.length !== program.inputs.length || local.outputSlots.length !== program.outputs.length) {
      throw new InternalError(`device ${device} binds ${local.inputSlots.length} inputs and ${local.outputSlots.length} outputs, the program has ${program.inputs.length} and ${program.outputs.length}`);
    }
    if (local.inputSlots.join() !== first.inputSlots.join() || local.outputSlots.join() !== first.outputSlots.join()) {
      throw new InternalError(`device ${device} binds inputs to slots [${local.inputSlots.join(", ")}] and outputs to [${local.outputSlots.join(", ")}], unlike device 0`);
    }
    local.steps.forEach((step, i) => {
      const own = stepSignature(step);
      if (own !== signature[i]) throw new InternalError(`device ${device} step ${i} is ${own}, but device 0 runs ${signature[i]}`);
    });
    checkDataflow(local);
  });
}
