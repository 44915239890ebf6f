// Builds the SPMD program of an nb.shardMap body: every device runs the traced local graph on its own
// shards, with one step per node, and each collective node becomes a collective step of its group.

import type { Aval, Node } from "../core/node.js";
import type { ParamsByPrimitive, ParamsOf, PrimitiveName } from "../core/primitive-names.js";
import { scheduleGraph } from "../core/schedule.js";
import { ShardingError } from "../runtime/errors.js";
import { MeshTopology } from "../runtime/mesh/topology.js";
import { allocate, type Storage } from "../runtime/storage.js";
import type { Group, LocalStep, SpmdProgram } from "./program.js";
import type { MeshLayout, ShardingSpec } from "./spec.js";

/** A global value of a shardMap call: its whole aval and the spec that splits it over the mesh. */
export interface ShardedValue {
  readonly aval: Aval;
  readonly spec: ShardingSpec;
}

/** The traced body: one placeholder per input leaf, in order, and the output leaves' nodes. */
export interface LocalGraph {
  readonly inputs: readonly Node[];
  readonly outputs: readonly Node[];
}

/** Emits the same step structure on every device, with each device's own groups. */
class StepEmitter {
  readonly steps: LocalStep[][];
  readonly slots = new Map<Node, number>();
  slotCount = 0;
  readonly #topology: MeshTopology;

  constructor(mesh: MeshLayout) {
    this.#topology = new MeshTopology(mesh.shape, mesh.axisNames);
    this.steps = Array.from({ length: this.#topology.deviceCount }, () => []);
  }

  newSlot(): number {
    return this.slotCount++;
  }

  group(device: number, axes: readonly string[]): Group {
    return this.#topology.groupOf(device, axes);
  }

  emit(make: (device: number) => LocalStep): void {
    this.steps.forEach((steps, device) => steps.push(make(device)));
  }

  slotOf(node: Node): number {
    return this.slots.get(node) as number;
  }
}

function emitAllReduce(emitter: StepEmitter, node: Node, op: "sum" | "max", axes: readonly string[]): number {
  const output = emitter.newSlot();
  const input = emitter.slotOf(node.inputs[0]);
  emitter.emit((device) => ({ kind: "allReduce", op, axes, group: emitter.group(device, axes), inputs: [input], outputs: [output], outs: [node.aval] }));
  return output;
}

/** pmean: an all-reduce sum, then a division by the group size, which is a constant of the local shape. */
function emitMean(emitter: StepEmitter, node: Node, axes: readonly string[]): number {
  const sum = emitAllReduce(emitter, node, "sum", axes);
  const size = emitter.group(0, axes).members.length;
  const divisor = emitter.newSlot();
  const value = allocate(node.dtype, node.shape.reduce((a, b) => a * b, 1)).fill(size);
  emitter.emit(() => ({ kind: "constant", value, output: divisor, out: node.aval }));
  const output = emitter.newSlot();
  const label = `pmean#${node.id}`;
  emitter.emit(() => ({ kind: "compute", prim: "div", params: {}, inputs: [sum, divisor], inAvals: [node.aval, node.aval], output, out: node.aval, label }));
  return output;
}

/** Emits a collective that moves one input along one mesh axis. */
function emitAlongAxis(emitter: StepEmitter, node: Node, make: (group: Group, input: number, output: number) => LocalStep, axis: string): number {
  const output = emitter.newSlot();
  const input = emitter.slotOf(node.inputs[0]);
  emitter.emit((device) => make(emitter.group(device, [axis]), input, output));
  return output;
}

function emitCompute(emitter: StepEmitter, node: Node): number {
  const output = emitter.newSlot();
  const prim = node.prim as PrimitiveName;
  const inputs = node.inputs.map((input) => emitter.slotOf(input));
  const inAvals = node.inputs.map((input) => input.aval);
  const params = node.params as ParamsByPrimitive[PrimitiveName];
  emitter.emit(() => ({ kind: "compute", prim, params, inputs, inAvals, output, out: node.aval, label: `${prim}#${node.id}` }));
  return output;
}

/** Emits the steps of one op node and returns the slot of its result. */
function emitNode(emitter: StepEmitter, node: Node): number {
  const out = node.aval;
  switch (node.prim) {
    case "psum":
      return emitAllReduce(emitter, node, "sum", (node.params as ParamsOf<"psum">).axes);
    case "pmax":
      return emitAllReduce(emitter, node, "max", (node.params as ParamsOf<"pmax">).axes);
    case "pmean":
      return emitMean(emitter, node, (node.params as ParamsOf<"pmean">).axes);
    case "allGatherAxis": {
      const { axis, dim } = node.params as ParamsOf<"allGatherAxis">;
      return emitAlongAxis(emitter, node, (group, input, output) => ({ kind: "allGather", axis, dim, group, input, output, out }), axis);
    }
    case "psumScatter": {
      const { axis, dim } = node.params as ParamsOf<"psumScatter">;
      return emitAlongAxis(emitter, node, (group, input, output) => ({ kind: "reduceScatter", op: "sum", axis, dim, group, input, output, out }), axis);
    }
    case "allToAllAxis": {
      const { axis, splitDim, concatDim } = node.params as ParamsOf<"allToAllAxis">;
      return emitAlongAxis(emitter, node, (group, input, output) => ({ kind: "allToAll", axis, splitDim, gatherDim: concatDim, group, input, output, out }), axis);
    }
    case "ppermute": {
      const { axis, pairs } = node.params as ParamsOf<"ppermute">;
      return emitAlongAxis(emitter, node, (group, input, output) => ({ kind: "permute", axis, pairs, group, input, output, out }), axis);
    }
    case "pvary":
      // The identity on the devices' values: it only changes how gradients are summed.
      return emitter.slotOf(node.inputs[0]);
    case "axisIndex": {
      const { axis } = node.params as ParamsOf<"axisIndex">;
      const output = emitter.newSlot();
      emitter.emit((device) => ({ kind: "constant", value: Int32Array.of(emitter.group(device, [axis]).rank), output, out }));
      return output;
    }
    default:
      return emitCompute(emitter, node);
  }
}

/** Places a node the body reads but does not compute: a body input, or a constant on every device. */
function placeBoundary(emitter: StepEmitter, node: Node): void {
  if (emitter.slots.has(node)) return;
  if (node.kind === "placeholder") {
    throw new ShardingError(`shardMap: the body reads placeholder #${node.id}, a value traced by another function; pass it to the shardMap function as an argument instead`);
  }
  const output = emitter.newSlot();
  const value = node.buffer as Storage;
  emitter.emit(() => ({ kind: "constant", value, output, out: node.aval }));
  emitter.slots.set(node, output);
}

/**
 * Builds the SPMD program of a traced shardMap body. `graph` has local (per-device) avals, equal on
 * every device; `inputs` and `outputs` give the global avals and specs of the call.
 */
export function buildShardMapProgram(graph: LocalGraph, mesh: MeshLayout, inputs: readonly ShardedValue[], outputs: readonly ShardedValue[]): SpmdProgram {
  const emitter = new StepEmitter(mesh);
  const inputSlots = graph.inputs.map((node) => {
    const slot = emitter.newSlot();
    emitter.slots.set(node, slot);
    return slot;
  });
  const schedule = scheduleGraph(graph.outputs, (node) => node.kind !== "op" || node.realized);
  for (const node of schedule.boundary) placeBoundary(emitter, node);
  for (const node of schedule.order) emitter.slots.set(node, emitNode(emitter, node));

  const outputSlots = graph.outputs.map((node) => emitter.slotOf(node));
  return {
    mesh,
    inputs,
    outputs,
    devices: emitter.steps.map((steps, device) => ({ device, slotCount: emitter.slotCount, inputSlots, steps, outputSlots })),
  };
}
