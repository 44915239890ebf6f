// A stable text form of one device's SPMD program, for NABLA_DEBUG=2 and structural tests.

import type { Aval } from "../core/node.js";
import { ValueError } from "../runtime/errors.js";
import { shardShape } from "./chunks.js";
import type { Group, LocalStep, SpmdProgram } from "./program.js";

function describeAval(aval: Aval): string {
  return `${aval.dtype}[${aval.shape.join(",")}]`;
}

function slotList(slots: readonly number[]): string {
  return slots.map((slot) => `%${slot}`).join(", ");
}

function describeGroup(group: Group): string {
  return `group [${group.members.join(", ")}] rank ${group.rank}`;
}

/** Params as JSON after a space, or nothing when there are none. */
function describeParams(params: object): string {
  return Object.keys(params).length > 0 ? ` ${JSON.stringify(params)}` : "";
}

/** Formats one step as a line: the slots it writes, the operation with its operands and fields, and the local avals. */
function describeStep(step: LocalStep): string {
  switch (step.kind) {
    case "compute":
      return `%${step.output} = ${step.label}(${slotList(step.inputs)})${describeParams(step.params)} : ${describeAval(step.out)}`;
    case "constant":
      return `%${step.output} = constant : ${describeAval(step.out)}`;
    case "fill":
      return `%${step.output} = fill ${step.value} for ${step.label} over an empty shard : ${describeAval(step.out)}`;
    case "allReduce":
      return `${slotList(step.outputs)} = allReduce ${step.op} over [${step.axes.join(", ")}] (${slotList(step.inputs)}) ${describeGroup(step.group)} : ${step.outs.map(describeAval).join(", ")}`;
    case "reduceScatter":
      return `%${step.output} = reduceScatter ${step.op} over ${step.axis} dim ${step.dim} (%${step.input}) ${describeGroup(step.group)} : ${describeAval(step.out)}`;
    case "allGather":
    case "split":
      return `%${step.output} = ${step.kind} over ${step.axis} dim ${step.dim} (%${step.input}) ${describeGroup(step.group)} : ${describeAval(step.out)}`;
    case "allToAll":
      return `%${step.output} = allToAll over ${step.axis} dim ${step.gatherDim} to dim ${step.splitDim} (%${step.input}) ${describeGroup(step.group)} : ${describeAval(step.out)}`;
    case "permute": {
      const pairs = step.pairs.map(([source, target]) => `${source}->${target}`).join(", ");
      return `%${step.output} = permute over ${step.axis} pairs [${pairs}] (%${step.input}) ${describeGroup(step.group)} : ${describeAval(step.out)}`;
    }
    default:
      return step satisfies never;
  }
}

/**
 * Prints `device`'s part of `program`: a header, one line per input with its local and global aval
 * and spec, one line per step with its slots, operation and local avals, and one line per output.
 * Raises a ValueError when `device` is not a device of the program's mesh.
 */
export function formatSpmdProgram(program: SpmdProgram, device = 0): string {
  const local = program.devices[device];
  if (!Number.isInteger(device) || local === undefined) {
    throw new ValueError(`formatSpmdProgram: device ${device} is not in this program's mesh of ${program.devices.length} devices. Pass a device from 0 to ${program.devices.length - 1}`);
  }
  const { mesh } = program;
  const port = (kind: string, i: number, slot: number, { aval, spec }: SpmdProgram["inputs"][number]): string => {
    const shard: Aval = { shape: shardShape(aval.shape, spec, mesh, device), dtype: aval.dtype };
    return `${kind} ${i} %${slot} : ${describeAval(shard)} of ${describeAval(aval)} ${spec}`;
  };
  return [
    `device ${device} of mesh [${mesh.shape.join(", ")}] with axes [${mesh.axisNames.join(", ")}]: ${local.steps.length} steps over ${local.slotCount} slots`,
    ...program.inputs.map((input, i) => port("input", i, local.inputSlots[i], input)),
    ...local.steps.map(describeStep),
    ...program.outputs.map((output, i) => port("output", i, local.outputSlots[i], output)),
  ].join("\n");
}
