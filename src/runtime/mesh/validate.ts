// Checks a mesh program on the main thread before it is sent to any worker, so workers never run a malformed step.

import { DTypeError, ValueError } from "../errors.js";
import type { StorageDType } from "../storage.js";
import { checkExtents, type BindingUse } from "./extents.js";
import { bindingCount, isCollective, type CollectiveStep, type DeviceProgram, type Operand, type Program, type ReduceOp, type Step } from "./program.js";
import type { MeshTopology } from "./topology.js";

/** Typed over every member of each union, so a new dtype or reduce op fails to compile until it is listed here. */
const collectiveDTypes: Record<StorageDType, true> = { float32: true, float64: true, int32: true, bool: true };
const reduceOps: Record<ReduceOp, true> = { sum: true, max: true, min: true, mean: true };

/**
 * Raises a ValueError (a DTypeError for an unknown dtype) naming the program, device and step of the
 * first problem found. Returns, per device, the furthest use of each input binding, for run to check.
 */
export function validateProgram(program: Program, topology: MeshTopology): BindingUse[][] {
  if (program.devices.length !== topology.deviceCount) {
    throw new ValueError(`program "${program.name}" has ${program.devices.length} device programs but the mesh has ${topology.deviceCount} devices; give one per device`);
  }
  const kernels = new Set((program.kernels ?? []).map((kernel) => kernel.key));
  const inputUses = program.devices.map((device, index) => validateDevice(program.name, index, device, kernels, topology));
  validateCollectivesMatch(program);
  return inputUses;
}

function validateDevice(name: string, device: number, program: DeviceProgram, kernels: ReadonlySet<string>, topology: MeshTopology): BindingUse[] {
  const where = (step: number) => `program "${name}" device ${device} step ${step}`;
  const bindings = bindingCount(program);
  checkCount(`program "${name}" device ${device} inputs`, program.inputs);
  for (const bytes of [...program.outputs, ...program.temps]) checkCount(`program "${name}" device ${device} buffer size`, bytes);
  program.steps.forEach((step, index) => {
    for (const operand of operandsOf(step)) checkOperand(where(index), operand, bindings);
    validateStep(where(index), step, kernels, topology, device);
  });
  return checkExtents(name, device, program, topology);
}

function validateStep(where: string, step: Step, kernels: ReadonlySet<string>, topology: MeshTopology, device: number): void {
  switch (step.kind) {
    case "kernel":
      if (!kernels.has(step.kernel)) throw new ValueError(`${where}: kernel "${step.kernel}" is not in the program's kernels; add its compiled module`);
      return;
    case "throw":
    case "exit":
      return;
    case "sleep":
      checkCount(`${where} sleep ms`, step.ms);
      return;
    case "allReduce":
    case "allGather":
    case "reduceScatter":
    case "allToAll":
    case "broadcast":
    case "permute":
      validateCollective(where, step, topology, device);
      return;
    default:
      step satisfies never;
  }
}

function validateCollective(where: string, step: CollectiveStep, topology: MeshTopology, device: number): void {
  if (!Object.hasOwn(collectiveDTypes, step.dtype)) {
    throw new DTypeError(`${where}: ${step.kind} dtype ${quote(step.dtype)} is not supported; use one of ${Object.keys(collectiveDTypes).join(", ")}`);
  }
  checkCount(`${where} count`, step.count);
  const size = topology.groupOf(device, step.axes).members.length;
  switch (step.kind) {
    case "allReduce":
    case "reduceScatter":
      if (!Object.hasOwn(reduceOps, step.op)) {
        throw new ValueError(`${where}: ${step.kind} op ${quote(step.op)} is not a reduce op; use one of ${Object.keys(reduceOps).join(", ")}`);
      }
      if (step.dtype === "bool") throw new ValueError(`${where}: ${step.kind} does not reduce bool buffers; cast to int32 first`);
      if (step.op === "mean" && step.dtype === "int32") throw new ValueError(`${where}: ${step.kind} mean needs a float dtype, got int32; use sum and divide`);
      return;
    case "broadcast":
      checkRank(where, "root", step.root, size);
      return;
    case "permute": {
      const sources = new Set<number>();
      const targets = new Set<number>();
      for (const [source, target] of step.pairs) {
        checkRank(where, "source", source, size);
        checkRank(where, "target", target, size);
        if (sources.has(source) || targets.has(target)) throw new ValueError(`${where}: permute pairs use rank ${source} as a source or rank ${target} as a target twice; each rank sends and receives at most once`);
        sources.add(source);
        targets.add(target);
      }
      return;
    }
    case "allGather":
    case "allToAll":
      return;
    default:
      step satisfies never;
  }
}

/**
 * Checks that every device runs the same sequence of collectives with the same parameters. Barriers are
 * counted per collective, so a mismatch would block until the timeout; it is rejected here instead.
 */
function validateCollectivesMatch(program: Program): void {
  const signatures = program.devices.map((device) => device.steps.filter(isCollective).map(signatureOf));
  const first = signatures[0] ?? [];
  signatures.forEach((list, device) => {
    const mismatch = list.length !== first.length ? Math.min(list.length, first.length) : list.findIndex((s, i) => s !== first[i]);
    if (list.length === first.length && mismatch < 0) return;
    throw new ValueError(
      `program "${program.name}": device ${device} disagrees with device 0 at its collective #${mismatch} ` +
        `(${list[mismatch] ?? "none"} against ${first[mismatch] ?? "none"}); every device must run the same collectives in the same order`,
    );
  });
}

function signatureOf(step: CollectiveStep): string {
  const base = `${step.kind}(${step.axes.join(",")}; ${step.dtype}[${step.count}]`;
  switch (step.kind) {
    case "allReduce":
    case "reduceScatter":
      return `${base}; ${step.op})`;
    case "broadcast":
      return `${base}; root ${step.root})`;
    case "permute":
      return `${base}; pairs ${JSON.stringify(step.pairs)})`;
    case "allGather":
    case "allToAll":
      return `${base})`;
    default:
      return step satisfies never;
  }
}

function operandsOf(step: Step): readonly Operand[] {
  if (step.kind === "kernel") return step.check === undefined ? step.args : [...step.args, step.check.indices];
  return isCollective(step) ? [step.input, step.output] : [];
}

function checkOperand(where: string, operand: Operand, bindings: number): void {
  if (typeof operand === "number") {
    if (!Number.isInteger(operand) || operand < 0 || operand > 0x7fffffff) throw new ValueError(`${where}: operand ${operand} must be an i32 byte offset or size (0 to 2^31-1)`);
    return;
  }
  if (!Number.isInteger(operand.binding) || operand.binding < 0 || operand.binding >= bindings) {
    throw new ValueError(`${where}: binding ${operand.binding} is out of range; this device program has ${bindings} bindings`);
  }
  if (operand.offset !== undefined) checkCount(`${where} binding offset`, operand.offset);
}

function checkCount(what: string, value: number): void {
  if (!Number.isInteger(value) || value < 0) throw new ValueError(`${what} must be a non-negative integer, got ${value}`);
}

function checkRank(where: string, what: string, rank: number, size: number): void {
  if (!Number.isInteger(rank) || rank < 0 || rank >= size) throw new ValueError(`${where}: ${what} rank ${rank} is outside the group of ${size} devices`);
}

/** Quotes a field read from a program, which may be missing or of the wrong type. */
function quote(value: unknown): string {
  return value === undefined ? "(missing)" : JSON.stringify(value);
}
