// The host SPMD simulator: runs every device's local program with the reference implementations and
// the collectives in plain TypeScript, in lock step. It is the oracle for the mesh executor.

import type { Aval } from "../core/node.js";
import { evalRule } from "../core/primitive.js";
import { InternalError } from "../runtime/errors.js";
import { concat, stridedCopy } from "../runtime/reference/layout.js";
import { allocate, stridesOf, type Storage } from "../runtime/storage.js";
import { chunkBounds, extractShard, insertShard, meshCoordinates, shardBounds } from "./chunks.js";
import type { LocalStep, SpmdProgram } from "./program.js";
import type { MeshLayout, PartialOp, ShardingSpec } from "./spec.js";

/** Local buffers and their avals, per device and slot. */
interface DeviceState {
  readonly slots: (Storage | undefined)[];
  readonly avals: (Aval | undefined)[];
}

function read(state: DeviceState, slot: number, label: string): Storage {
  const value = state.slots[slot];
  if (value === undefined) throw new InternalError(`simulate: ${label} reads slot ${slot} before it is written`);
  return value;
}

function write(state: DeviceState, slot: number, value: Storage, aval: Aval): void {
  state.slots[slot] = value;
  state.avals[slot] = aval;
}

/** Copies [start, stop) of `dim` out of a row-major `x` of `shape`. */
function sliceAlong(x: Storage, shape: readonly number[], dim: number, start: number, stop: number, dtype: Aval["dtype"]): Storage {
  const strides = stridesOf(shape);
  const outShape = shape.map((n, d) => (d === dim ? stop - start : n));
  return stridedCopy(x, outShape, strides, start * strides[dim], dtype);
}

const combine: Record<PartialOp, (a: number, b: number) => number> = {
  sum: (a, b) => a + b,
  max: (a, b) => (Number.isNaN(a) || Number.isNaN(b) ? NaN : Math.max(a, b)),
  min: (a, b) => (Number.isNaN(a) || Number.isNaN(b) ? NaN : Math.min(a, b)),
};

/** Reduces the members' buffers in rank order, rounding to the dtype after every step. */
function reduceInOrder(parts: readonly Storage[], op: PartialOp, aval: Aval): Storage {
  const out = allocate(aval.dtype, parts[0].length);
  out.set(parts[0]);
  const f = combine[op];
  for (const part of parts.slice(1)) for (let i = 0; i < out.length; i++) out[i] = f(out[i], part[i]);
  return out;
}

/** Returns this device's chunk of `dim` of the group's inputs, reduced in rank order. */
function reduceScatterShard(states: readonly DeviceState[], step: Extract<LocalStep, { kind: "reduceScatter" }>): Storage {
  const { members, rank } = step.group;
  const shape = (states[members[0]].avals[step.input] as Aval).shape;
  const total = reduceInOrder(members.map((m) => read(states[m], step.input, "reduceScatter")), step.op, { shape, dtype: step.out.dtype });
  const [start, stop] = chunkBounds(shape[step.dim], members.length, rank);
  return sliceAlong(total, shape, step.dim, start, stop, step.out.dtype);
}

/** Returns the input of the rank whose pair targets this device, or zeros when no pair does. */
function permutedValue(states: readonly DeviceState[], step: Extract<LocalStep, { kind: "permute" }>): Storage {
  const { members, rank } = step.group;
  const pair = step.pairs.find(([, target]) => target === rank);
  if (pair === undefined) return allocate(step.out.dtype, step.out.shape.reduce((a, b) => a * b, 1));
  return read(states[members[pair[0]]], step.input, "permute").slice();
}

/** Runs one step on every device; collectives read the other devices' slots. */
function runStep(states: readonly DeviceState[], steps: readonly LocalStep[]): void {
  const writes: (() => void)[] = [];
  steps.forEach((step, device) => {
    const state = states[device];
    switch (step.kind) {
      case "compute": {
        const args = step.inputs.map((slot) => read(state, slot, step.label));
        const value = evalRule(step.prim).impl(args, step.inAvals, step.params as never, step.out);
        writes.push(() => write(state, step.output, value, step.out));
        break;
      }
      case "constant":
        writes.push(() => write(state, step.output, step.value, step.out));
        break;
      case "fill": {
        const value = allocate(step.out.dtype, step.out.shape.reduce((a, b) => a * b, 1)).fill(step.value);
        writes.push(() => write(state, step.output, value, step.out));
        break;
      }
      case "split": {
        const shape = (state.avals[step.input] as Aval).shape;
        const [start, stop] = chunkBounds(shape[step.dim], step.group.members.length, step.group.rank);
        const value = sliceAlong(read(state, step.input, "split"), shape, step.dim, start, stop, step.out.dtype);
        writes.push(() => write(state, step.output, value, step.out));
        break;
      }
      case "allReduce": {
        const values = step.inputs.map((slot, j) => reduceInOrder(step.group.members.map((m) => read(states[m], slot, "allReduce")), step.op, step.outs[j]));
        writes.push(() => step.outputs.forEach((slot, j) => write(state, slot, values[j], step.outs[j])));
        break;
      }
      case "allGather": {
        const { members } = step.group;
        const parts = members.map((m) => read(states[m], step.input, "allGather"));
        const value = concat(parts, members.map((m) => (states[m].avals[step.input] as Aval).shape), step.dim, step.out.dtype);
        writes.push(() => write(state, step.output, value, step.out));
        break;
      }
      case "allToAll": {
        const { members, rank } = step.group;
        const pieces = members.map((m) => {
          const shape = (states[m].avals[step.input] as Aval).shape;
          const [start, stop] = chunkBounds(shape[step.splitDim], members.length, rank);
          return { data: sliceAlong(read(states[m], step.input, "allToAll"), shape, step.splitDim, start, stop, step.out.dtype), shape: shape.map((n, d) => (d === step.splitDim ? stop - start : n)) };
        });
        const value = concat(pieces.map((p) => p.data), pieces.map((p) => p.shape), step.gatherDim, step.out.dtype);
        writes.push(() => write(state, step.output, value, step.out));
        break;
      }
      case "reduceScatter": {
        const value = reduceScatterShard(states, step);
        writes.push(() => write(state, step.output, value, step.out));
        break;
      }
      case "permute": {
        const value = permutedValue(states, step);
        writes.push(() => write(state, step.output, value, step.out));
        break;
      }
      default:
        step satisfies never;
    }
  });
  // Collectives read every device's slots, so results land only after all devices ran the step.
  for (const apply of writes) apply();
}

/** Runs `program` on each device's local input shards; returns each device's local output shards. */
export function simulate(program: SpmdProgram, localInputs: readonly (readonly Storage[])[]): Storage[][] {
  const states: DeviceState[] = program.devices.map((local, device) => {
    const state: DeviceState = { slots: new Array(local.slotCount), avals: new Array(local.slotCount) };
    local.inputSlots.forEach((slot, i) => {
      const { aval, spec } = program.inputs[i];
      write(state, slot, localInputs[device][i], { shape: shardBounds(aval.shape, spec, program.mesh, device).map(([a, b]) => b - a), dtype: aval.dtype });
    });
    return state;
  });
  const stepCount = program.devices[0].steps.length;
  for (let i = 0; i < stepCount; i++) runStep(states, program.devices.map((local) => local.steps[i]));
  return program.devices.map((local, device) => local.outputSlots.map((slot) => read(states[device], slot, "output")));
}

/**
 * Splits a pending partial result over `axis` among its devices: the sum spread in shares (c+1)/T that
 * add up to 1, the max held exactly by rank 0 with smaller values elsewhere, the min likewise.
 */
function partialShare(value: number, op: PartialOp, coordinate: number, size: number, integer: boolean): number {
  switch (op) {
    case "sum":
      if (integer) return coordinate === 0 ? value - ((size - 1) * size) / 2 : coordinate;
      return (value * (coordinate + 1)) / ((size * (size + 1)) / 2);
    case "max":
      return value - coordinate;
    case "min":
      return value + coordinate;
    default:
      return op satisfies never;
  }
}

/** Device `device`'s local shard of a global value under `spec`, partial entries included. */
export function shardValue(global: Storage, aval: Aval, spec: ShardingSpec, mesh: MeshLayout, device: number): Storage {
  const local = extractShard(global, aval.shape, shardBounds(aval.shape, spec, mesh, device), (n) => allocate(aval.dtype, n));
  const coordinates = meshCoordinates(mesh.shape, device);
  for (const [axis, op] of Object.entries(spec.partial)) {
    const a = mesh.axisNames.indexOf(axis);
    for (let i = 0; i < local.length; i++) local[i] = partialShare(local[i], op, coordinates[a], mesh.shape[a], aval.dtype === "int32");
  }
  return local;
}

/** Assembles a global value from every device's shard; devices holding the same shard must agree exactly. */
export function assembleValue(shards: readonly Storage[], aval: Aval, spec: ShardingSpec, mesh: MeshLayout): Storage {
  const out = allocate(aval.dtype, aval.shape.reduce((a, b) => a * b, 1));
  const seen = new Map<string, Storage>();
  shards.forEach((shard, device) => {
    const bounds = shardBounds(aval.shape, spec, mesh, device);
    const key = JSON.stringify(bounds);
    const first = seen.get(key);
    if (first === undefined) {
      seen.set(key, shard);
      insertShard(out, aval.shape, bounds, shard);
    } else if (first.some((v, i) => !Object.is(v, shard[i]))) {
      throw new InternalError(`simulate: devices disagree on the replicated shard ${key}; device ${device} differs from an earlier device`);
    }
  });
  return out;
}

/** Shards `globals` by the program's input specs, simulates every device and assembles the global outputs. */
export function runSpmd(program: SpmdProgram, globals: readonly Storage[]): Storage[] {
  const devices = program.devices.map((_, device) => program.inputs.map(({ aval, spec }, i) => shardValue(globals[i], aval, spec, program.mesh, device)));
  const outputs = simulate(program, devices);
  return program.outputs.map(({ aval, spec }, i) => assembleValue(outputs.map((o) => o[i]), aval, spec, program.mesh));
}
