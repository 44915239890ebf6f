// The SPMD partitioner: propagates specs forward through a traced graph with the sharding rules,
// inserts the reshards the rules ask for, and emits one local program per mesh device.

import type { Aval, Node } from "../core/node.js";
import { evalRule } from "../core/primitive.js";
import type { ParamsByPrimitive, ParamsOf, PrimitiveName } from "../core/primitive-names.js";
import { scheduleGraph } from "../core/schedule.js";
import { debugLog } from "../runtime/debug.js";
import { InternalError, ShardingError } from "../runtime/errors.js";
import { MeshTopology } from "../runtime/mesh/topology.js";
import type { Storage } from "../runtime/storage.js";
import { shardShape } from "./chunks.js";
import type { Group, LocalStep, SpmdProgram } from "./program.js";
import { decideDirect, planBackwardSpecs, useKey, type PassRecord } from "./backward.js";
import { formatSpmdProgram } from "./print.js";
import { planReshard, type ReshardStep } from "./reshard.js";
import type { RuleResult } from "./rule-helpers.js";
import { shardingRule } from "./rules.js";
import { checkSpec, ShardingSpec, type MeshLayout, type PartialOp } from "./spec.js";

/** The sharding of one graph input: its spec, the mesh it lives on, and a name for errors. */
export interface ShardedInput {
  readonly spec: ShardingSpec;
  readonly mesh: MeshLayout;
  readonly name?: string;
}

/** A traced graph: its placeholders in argument order and its output nodes. */
export interface TracedGraph {
  readonly inputs: readonly Node[];
  readonly outputs: readonly Node[];
}

export interface PartitionOptions {
  /** Spec of each output; by default an output keeps its split and settles its partial results. */
  readonly outputSpecs?: readonly (ShardingSpec | undefined)[];
  /** Settle the outputs' partial results with one bucketed all-reduce per (op, axes) instead of one per output. */
  readonly bucketOutputReductions?: boolean;
  /**
   * Sharding constraints by node. Each constrained node's value is resharded to its spec as soon as it
   * is computed, so its consumers start from that spec. Specs may not be partial. Constraints on nodes
   * that the outputs do not depend on are ignored. compile fills it from nb.withShardingConstraint.
   */
  readonly constraints?: ReadonlyMap<Node, ShardingSpec>;
  /**
   * Compute a value directly in the spec all its uses reshard it to, when its rule allows it and that
   * moves fewer bytes or, at equal bytes, computes less (see backward.ts). It costs a second partitioning
   * pass when some value qualifies. Default true.
   */
  readonly propagateBackward?: boolean;
}

/** A value during partitioning: the slot holding its local shard on every device, and its global spec. */
interface Value {
  readonly slot: number;
  readonly spec: ShardingSpec;
  readonly aval: Aval;
}

/** Emits the same step structure on every device, with per-device shapes, params and groups. */
class ProgramBuilder {
  readonly steps: LocalStep[][];
  slotCount = 0;
  readonly #topology: MeshTopology;
  readonly #reshards = new Map<string, Value>();

  constructor(readonly mesh: MeshLayout) {
    this.#topology = new MeshTopology(mesh.shape, mesh.axisNames);
    this.steps = Array.from({ length: this.#topology.deviceCount }, () => []);
  }

  get deviceCount(): number {
    return this.steps.length;
  }

  newSlot(): number {
    return this.slotCount++;
  }

  group(device: number, axes: readonly string[]): Group {
    return this.#topology.groupOf(device, axes);
  }

  local(aval: Aval, spec: ShardingSpec, device: number): Aval {
    return { shape: shardShape(aval.shape, spec, this.mesh, device), dtype: aval.dtype };
  }

  emit(make: (device: number) => LocalStep): void {
    this.steps.forEach((steps, device) => steps.push(make(device)));
  }

  /** Returns `value` resharded to `target`, reusing an earlier identical reshard. */
  reshard(value: Value, target: ShardingSpec): Value {
    if (value.spec.equals(target)) return value;
    const key = `${value.slot}:${target}`;
    const cached = this.#reshards.get(key);
    if (cached !== undefined) return cached;
    let current = value;
    for (const step of planReshard(value.spec, target, this.mesh)) current = this.#emitReshardStep(current, step);
    this.#reshards.set(key, current);
    return current;
  }

  /** All-reduces several values with one step; every value must owe `op` on exactly `axes`. */
  bucketAllReduce(values: readonly Value[], op: PartialOp, axes: readonly string[], specs: readonly ShardingSpec[]): Value[] {
    const outputs = values.map(() => this.newSlot());
    this.emit((device) => ({
      kind: "allReduce",
      op,
      axes,
      group: this.group(device, axes),
      inputs: values.map((v) => v.slot),
      outputs,
      outs: values.map((v, i) => this.local(v.aval, specs[i], device)),
    }));
    return values.map((v, i) => ({ slot: outputs[i], spec: specs[i], aval: v.aval }));
  }

  #emitReshardStep(value: Value, step: ReshardStep): Value {
    if (step.kind === "allReduce") return this.bucketAllReduce([value], step.op, step.axes, [step.spec])[0];
    const output = this.newSlot();
    const input = value.slot;
    this.emit((device) => {
      const out = this.local(value.aval, step.spec, device);
      const group = this.group(device, [step.axis]);
      switch (step.kind) {
        case "allGather":
          return { kind: "allGather", axis: step.axis, dim: step.dim, group, input, output, out };
        case "split":
          return { kind: "split", axis: step.axis, dim: step.dim, group, input, output, out };
        case "reduceScatter":
          return { kind: "reduceScatter", op: step.op, axis: step.axis, dim: step.dim, group, input, output, out };
        case "allToAll":
          return { kind: "allToAll", axis: step.axis, gatherDim: step.gatherDim, splitDim: step.splitDim, group, input, output, out };
        default:
          return step satisfies never;
      }
    });
    return { slot: output, spec: step.spec, aval: value.aval };
  }
}

function sameMesh(a: MeshLayout, b: MeshLayout): boolean {
  return a.shape.length === b.shape.length && a.shape.every((n, i) => n === b.shape[i]) && a.axisNames.every((name, i) => name === b.axisNames[i]);
}

function describeMesh(mesh: MeshLayout): string {
  return `[${mesh.shape.join(", ")}] with axes [${mesh.axisNames.join(", ")}]`;
}

/** Validates the inputs' meshes and specs; returns the common mesh and each input's full-rank spec. */
function checkInputs(graph: TracedGraph, inputs: readonly ShardedInput[]): { mesh: MeshLayout; specs: ShardingSpec[] } {
  if (inputs.length !== graph.inputs.length) {
    throw new ShardingError(`partition: the graph has ${graph.inputs.length} inputs but ${inputs.length} shardings were given; give one per input`);
  }
  if (inputs.length === 0) throw new ShardingError("partition: the graph has no inputs, so there is no mesh to partition over; pass at least one sharded input");
  const name = (i: number): string => inputs[i].name ?? `input ${i}`;
  const mesh = inputs[0].mesh;
  inputs.forEach((input, i) => {
    if (!sameMesh(input.mesh, mesh)) {
      throw new ShardingError(`${name(i)} is on mesh ${describeMesh(input.mesh)} but ${name(0)} is on mesh ${describeMesh(mesh)}; put every operand on the same mesh`);
    }
  });
  return { mesh, specs: inputs.map((input, i) => checkSpec(input.spec, graph.inputs[i].shape, mesh, name(i))) };
}

/** Identity of a reduction, for the local result over an empty shard. */
function reductionIdentity(op: "max" | "min", dtype: Aval["dtype"]): number {
  if (dtype === "int32") return op === "max" ? -2147483648 : 2147483647;
  if (dtype === "bool") return op === "max" ? 0 : 1;
  return op === "max" ? -Infinity : Infinity;
}

/** Params of `prim` rewritten for one device's local shapes. */
function localParams(prim: PrimitiveName, params: ParamsByPrimitive[PrimitiveName], global: readonly Aval[], local: readonly Aval[], out: Aval): ParamsByPrimitive[PrimitiveName] {
  switch (prim) {
    case "reshape":
    case "broadcastTo":
      return { shape: out.shape };
    case "slice": {
      // Only dimensions the slice keeps whole may be split, and for those the local stop is the local size.
      const { start, stop, step } = params as ParamsOf<"slice">;
      const localStop = stop.map((s, i) => (start[i] === 0 && step[i] === 1 && s === global[0].shape[i] ? local[0].shape[i] : s));
      return { start, stop: localStop, step };
    }
    default:
      return params;
  }
}

function emitCompute(builder: ProgramBuilder, node: Node, operands: readonly Value[], outSpec: ShardingSpec): number {
  const prim = node.prim as PrimitiveName;
  const output = builder.newSlot();
  const label = `${prim}#${node.id}`;
  builder.emit((device) => {
    const inAvals = operands.map((v) => builder.local(v.aval, v.spec, device));
    const out = builder.local(node.aval, outSpec, device);
    if (prim === "reduceMax" || prim === "reduceMin") {
      const { axes } = node.params as ParamsOf<"reduceMax">;
      if (axes.some((a) => inAvals[0].shape[a] === 0)) {
        return { kind: "fill", value: reductionIdentity(prim === "reduceMax" ? "max" : "min", out.dtype), output, out, label };
      }
    }
    const params = localParams(prim, node.params as ParamsByPrimitive[PrimitiveName], operands.map((v) => v.aval), inAvals, out);
    const checked = evalRule(prim).abstractEval(inAvals, params as never);
    if (checked.shape.length !== out.shape.length || checked.shape.some((d, i) => d !== out.shape[i])) {
      throw new InternalError(`partition: ${label} on device ${device} computes [${checked.shape.join(", ")}] but its spec ${outSpec} expects [${out.shape.join(", ")}]`);
    }
    return { kind: "compute", prim, params, inputs: operands.map((v) => v.slot), inAvals, output, out, label };
  });
  return output;
}

/** Applies `node`'s sharding rule and returns its decision, or the decision to compute it in `preferred` when decideDirect takes it. */
function decideNode(builder: ProgramBuilder, node: Node, operands: readonly Value[], preferred: ShardingSpec | undefined): RuleResult {
  const prim = node.prim as PrimitiveName;
  const rule = shardingRule(prim);
  const decision = rule({ specs: operands.map((v) => v.spec), avals: operands.map((v) => v.aval), out: node.aval, params: node.params as never, mesh: builder.mesh });
  if (decision.output.rank !== node.shape.length) {
    throw new InternalError(`partition: the ${prim} rule returned ${decision.output} for an output of rank ${node.shape.length}`);
  }
  if (preferred === undefined || decision.output.equals(preferred)) return decision;
  return decideDirect(node, operands, decision, preferred, builder.mesh) ?? decision;
}

/** Decides `node`'s specs, records them, reshards its operands and emits its local computation. */
function partitionNode(builder: ProgramBuilder, node: Node, values: Map<Node, Value>, recorder: Recorder): Value {
  const operands = node.inputs.map((input) => values.get(input) as Value);
  const decision = decideNode(builder, node, operands, recorder.preferred.get(node));
  recorder.computed.set(node, decision.output);
  node.inputs.forEach((input, i) => recorder.demand(input, useKey(node, i), decision.inputs[i]));
  const resharded = operands.map((v, i) => builder.reshard(v, decision.inputs[i]));
  return { slot: emitCompute(builder, node, resharded, decision.output), spec: decision.output, aval: node.aval };
}

function placeBoundary(builder: ProgramBuilder, node: Node, inputs: ReadonlyMap<Node, Value>): Value {
  const input = inputs.get(node);
  if (input !== undefined) return input;
  if (node.kind === "placeholder") {
    throw new ShardingError(`partition: the graph reads placeholder #${node.id}, which is not one of its inputs; list every placeholder the outputs depend on`);
  }
  const output = builder.newSlot();
  const value = node.buffer as Storage;
  builder.emit(() => ({ kind: "constant", value, output, out: node.aval }));
  return { slot: output, spec: ShardingSpec.replicated(node.shape.length), aval: node.aval };
}

function describeNode(node: Node): string {
  return node.kind === "op" ? `${node.prim}#${node.id}` : `${node.kind} #${node.id}`;
}

/** Reshards `value` to the constraint on `node`, if there is one. Raises a ShardingError for an invalid or partial spec. */
function applyConstraint(builder: ProgramBuilder, node: Node, value: Value, constraint: ShardingSpec | undefined): Value {
  if (constraint === undefined) return value;
  const where = `sharding constraint on ${describeNode(node)} of shape [${node.shape.join(", ")}]`;
  const spec = checkSpec(constraint, node.shape, builder.mesh, where);
  if (Object.keys(spec.partial).length > 0) {
    throw new ShardingError(`${where}: spec ${spec} is partial, but a constraint can only split or replicate. Drop the partial entries`);
  }
  return builder.reshard(value, spec);
}

/** The record of one pass for backward propagation, with the specs it prefers from an earlier pass. */
class Recorder implements PassRecord {
  readonly order: Node[] = [];
  readonly computed = new Map<Node, ShardingSpec>();
  readonly demands = new Map<Node, Map<string, ShardingSpec>>();

  constructor(
    readonly preferred: ReadonlyMap<Node, ShardingSpec>,
    readonly constrained: ReadonlySet<Node>,
  ) {}

  /** Records that `use` reshards `node`'s value to `spec`. The uses of a constrained value start from its constraint, so only the constraint counts. */
  demand(node: Node, use: string, spec: ShardingSpec): void {
    if (this.constrained.has(node) && use !== "constraint") return;
    const uses = this.demands.get(node) ?? new Map<string, ShardingSpec>();
    uses.set(use, spec);
    this.demands.set(node, uses);
  }
}

function outputTargets(graph: TracedGraph, values: ReadonlyMap<Node, Value>, mesh: MeshLayout, options: PartitionOptions): ShardingSpec[] {
  return graph.outputs.map((node, i) => {
    const requested = options.outputSpecs?.[i];
    if (requested === undefined) return (values.get(node) as Value).spec.withoutPartial();
    const spec = checkSpec(requested, node.shape, mesh, `output ${i}`);
    if (Object.keys(spec.partial).length > 0) {
      throw new ShardingError(`output ${i}: spec ${spec} is partial, but outputs are always settled; drop the partial entries`);
    }
    return spec;
  });
}

/** Settles the outputs' first pending partial step with one all-reduce per (op, axes). */
function bucketOutputs(builder: ProgramBuilder, outputs: Value[], targets: readonly ShardingSpec[]): void {
  const buckets = new Map<string, { op: PartialOp; axes: readonly string[]; members: number[]; specs: ShardingSpec[] }>();
  outputs.forEach((value, i) => {
    const [first] = planReshard(value.spec, targets[i], builder.mesh);
    if (first?.kind !== "allReduce") return;
    const key = `${first.op}:${first.axes.join(",")}`;
    const bucket = buckets.get(key) ?? { op: first.op, axes: first.axes, members: [], specs: [] };
    bucket.members.push(i);
    bucket.specs.push(first.spec);
    buckets.set(key, bucket);
  });
  for (const { op, axes, members, specs } of buckets.values()) {
    const reduced = builder.bucketAllReduce(members.map((i) => outputs[i]), op, axes, specs);
    members.forEach((i, j) => (outputs[i] = reduced[j]));
  }
}

/** Runs one forward pass over the graph, computing the nodes in `preferred` in their preferred spec where decideDirect takes it. */
function partitionOnce(graph: TracedGraph, mesh: MeshLayout, specs: readonly ShardingSpec[], options: PartitionOptions, preferred: ReadonlyMap<Node, ShardingSpec>): { program: SpmdProgram; record: PassRecord } {
  const builder = new ProgramBuilder(mesh);
  const recorder = new Recorder(preferred, new Set(options.constraints?.keys()));
  const inputValues = new Map<Node, Value>(graph.inputs.map((node, i) => [node, { slot: builder.newSlot(), spec: specs[i], aval: node.aval }]));

  const schedule = scheduleGraph(graph.outputs, (node) => node.kind !== "op" || node.realized);
  const values = new Map<Node, Value>();
  const constrain = (node: Node, value: Value): Value => {
    const constraint = options.constraints?.get(node);
    const constrained = applyConstraint(builder, node, value, constraint);
    if (constraint !== undefined) recorder.demand(node, "constraint", constrained.spec);
    return constrained;
  };
  for (const node of schedule.boundary) values.set(node, constrain(node, placeBoundary(builder, node, inputValues)));
  for (const node of schedule.order) {
    recorder.order.push(node);
    values.set(node, constrain(node, partitionNode(builder, node, values, recorder)));
  }

  const targets = outputTargets(graph, values, mesh, options);
  const outputs = graph.outputs.map((node) => values.get(node) as Value);
  if (options.bucketOutputReductions === true) bucketOutputs(builder, outputs, targets);
  const settled = outputs.map((value, i) => builder.reshard(value, targets[i]));
  graph.outputs.forEach((node, i) => recorder.demand(node, `output ${i}`, targets[i]));

  const inputSlots = graph.inputs.map((node) => (inputValues.get(node) as Value).slot);
  const program: SpmdProgram = {
    mesh,
    inputs: graph.inputs.map((node, i) => ({ aval: node.aval, spec: specs[i] })),
    outputs: graph.outputs.map((node, i) => ({ aval: node.aval, spec: targets[i] })),
    devices: builder.steps.map((steps, device) => ({ device, slotCount: builder.slotCount, inputSlots, steps, outputSlots: settled.map((v) => v.slot) })),
  };
  return { program, record: recorder };
}

/**
 * Partitions `graph` for inputs sharded as `inputs`: one local program per device, with the local
 * shapes of every shard (uneven and empty shards included) and explicit collectives. A first pass
 * propagates specs forward. Unless `options.propagateBackward` is false, a second pass computes
 * values directly in the spec their uses need, where planBackwardSpecs finds such values.
 */
export function partition(graph: TracedGraph, inputs: readonly ShardedInput[], options: PartitionOptions = {}): SpmdProgram {
  const { mesh, specs } = checkInputs(graph, inputs);
  let { program, record } = partitionOnce(graph, mesh, specs, options, new Map());
  const preferred = options.propagateBackward === false ? new Map<Node, ShardingSpec>() : planBackwardSpecs(record);
  if (preferred.size > 0) ({ program } = partitionOnce(graph, mesh, specs, options, preferred));
  debugLog(2, () => `partitioned program, ${formatSpmdProgram(program)}`);
  return program;
}
