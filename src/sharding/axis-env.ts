// The mesh axes that nb.shardMap binds while it traces its body, and two analyses of each traced value
// over those axes. Collective primitives read their axis sizes here, so they exist only inside shardMap.
//
// Varying axes: the axes along which devices may hold different values; an out spec must name them.
// Per-device axes: the axes along which each device's value counts on its own in gradients. Body
// inputs are per-device along every axis, even when replicated, so the gradient of a replicated input
// is this device's own gradient. A psum, pmean or pmax result is one value for its group and counts
// once. When such a shared value enters a per-device computation, the operand hook wraps it in pvary,
// whose transpose sums the devices' cotangents into the shared value's cotangent, as in JAX's shard_map.

import { bind, setOperandHook } from "../core/bind.js";
import type { Node } from "../core/node.js";
import type { ParamsOf, PrimitiveName } from "../core/primitive-names.js";
import { scheduleGraph } from "../core/schedule.js";
import type { Tensor } from "../core/tensor.js";
import { InternalError, NotSupportedError, ShardingError } from "../runtime/errors.js";
import type { MeshLayout } from "./spec.js";

type AxisSets = Map<Node, ReadonlySet<string>>;

interface AxisEnv {
  readonly mesh: MeshLayout;
  readonly varying: AxisSets;
  readonly perDevice: AxisSets;
}

let active: AxisEnv | undefined;

export function isInsideShardMap(): boolean {
  return active !== undefined;
}

/** Runs `fn` with the axes of `mesh` bound and the pvary operand hook installed. Nested shardMap calls raise a NotSupportedError. */
export function withBoundAxes<T>(mesh: MeshLayout, fn: () => T): T {
  if (active !== undefined) {
    throw new NotSupportedError("shardMap: a shardMap body calls nb.shardMap again, and nested shardMap is not supported; use collectives over several axes in one body instead");
  }
  active = { mesh, varying: new Map(), perDevice: new Map() };
  const previous = setOperandHook(insertPvary);
  try {
    return fn();
  } finally {
    setOperandHook(previous);
    active = undefined;
  }
}

function activeEnv(): AxisEnv {
  if (active === undefined) throw new InternalError("no shardMap body is being traced, so no mesh axes are bound");
  return active;
}

/** Records a body input, which varies along the axes its spec splits it by. */
export function markInput(node: Node, splitAxes: readonly string[]): void {
  const env = activeEnv();
  env.varying.set(node, new Set(splitAxes));
  env.perDevice.set(node, new Set(env.mesh.axisNames));
}

/** Returns the number of devices along `axis` of the bound mesh; raises a ShardingError naming `op` when it is not bound. */
export function boundAxisSize(op: string, axis: string): number {
  if (active === undefined) {
    throw new ShardingError(`${op}: mesh axis ${JSON.stringify(axis)} is not bound; call ${op} inside the body of nb.shardMap, whose mesh names the axis`);
  }
  const index = active.mesh.axisNames.indexOf(axis);
  if (index < 0) {
    throw new ShardingError(`${op}: mesh axis ${JSON.stringify(axis)} not found; the shardMap mesh has axes [${active.mesh.axisNames.join(", ")}]`);
  }
  return active.mesh.shape[index];
}

/** Returns the number of devices in a group along `axes`: the product of their sizes. */
export function groupSize(op: string, axes: readonly string[]): number {
  return axes.reduce((size, axis) => size * boundAxisSize(op, axis), 1);
}

/** Returns the mesh axes a collective runs along, or none for other primitives. */
function collectiveAxes(prim: PrimitiveName, params: unknown): readonly string[] {
  switch (prim) {
    case "psum":
    case "pmean":
    case "pmax":
    case "pvary":
      return (params as ParamsOf<"psum">).axes;
    case "allGatherAxis":
    case "psumScatter":
    case "allToAllAxis":
    case "ppermute":
    case "axisIndex":
      return [(params as ParamsOf<"allGatherAxis">).axis];
    default:
      return [];
  }
}

/**
 * Returns the varying axes of a primitive's result from the union of its inputs'. A reduction over axes leaves
 * every device of the group the same value, and so does an all-gather along its axis. A scatter, an
 * all-to-all, a permutation or an axis index gives each device of the group its own value.
 */
function varyingRule(prim: PrimitiveName, params: unknown, inputs: Set<string>): ReadonlySet<string> {
  const axes = collectiveAxes(prim, params);
  switch (prim) {
    case "psum":
    case "pmean":
    case "pmax":
    case "allGatherAxis":
      for (const axis of axes) inputs.delete(axis);
      return inputs;
    case "psumScatter":
    case "allToAllAxis":
    case "ppermute":
    case "axisIndex":
      return inputs.add(axes[0]);
    default:
      return inputs;
  }
}

/** Returns the per-device axes of a primitive's result. A reduction counts once for its group, and pvary and axisIndex count per device. */
function perDeviceRule(prim: PrimitiveName, params: unknown, inputs: Set<string>): ReadonlySet<string> {
  const axes = collectiveAxes(prim, params);
  switch (prim) {
    case "psum":
    case "pmean":
    case "pmax":
      for (const axis of axes) inputs.delete(axis);
      return inputs;
    case "pvary":
    case "axisIndex":
      for (const axis of axes) inputs.add(axis);
      return inputs;
    default:
      return inputs;
  }
}

type AxisRule = (prim: PrimitiveName, params: unknown, inputs: Set<string>) => ReadonlySet<string>;

/** Computes the axis sets of `node` and of every unknown node behind it with `rule`; constants get the empty set. */
function analyze(sets: AxisSets, node: Node, rule: AxisRule): ReadonlySet<string> {
  const known = sets.get(node);
  if (known !== undefined) return known;
  const schedule = scheduleGraph([node], (n) => sets.has(n) || n.kind !== "op");
  // A placeholder this body did not create fails later, in the program builder.
  for (const n of schedule.boundary) if (!sets.has(n)) sets.set(n, new Set());
  for (const n of schedule.order) {
    const union = new Set(n.inputs.flatMap((input) => [...(sets.get(input) as ReadonlySet<string>)]));
    sets.set(n, rule(n.prim as PrimitiveName, n.params, union));
  }
  return sets.get(node) as ReadonlySet<string>;
}

/** Returns the mesh axes along which the devices' values of `node` may differ. */
export function varyingAxes(node: Node): ReadonlySet<string> {
  return analyze(activeEnv().varying, node, varyingRule);
}

/** Returns the mesh axes along which each device's value of `node` counts on its own in gradients. */
export function perDeviceAxes(node: Node): ReadonlySet<string> {
  return analyze(activeEnv().perDevice, node, perDeviceRule);
}

/**
 * Wraps in pvary each differentiable operand that is shared along an axis where another operand, or
 * the collective itself, works per device. This is the operand hook of a shardMap body. Untracked
 * operands are left alone, because pvary only changes gradients.
 */
function insertPvary(prim: PrimitiveName, inputs: readonly Tensor[], params: unknown): readonly Tensor[] {
  if (prim === "pvary" || inputs.every((t) => !t.node.tracked)) return inputs;
  const needed = new Set([...collectiveAxes(prim, params), ...inputs.flatMap((t) => [...perDeviceAxes(t.node)])]);
  const order = activeEnv().mesh.axisNames;
  return inputs.map((t) => {
    const own = perDeviceAxes(t.node);
    const missing = order.filter((axis) => needed.has(axis) && !own.has(axis));
    return t.node.tracked && missing.length > 0 ? bind("pvary", [t], { axes: missing }) : t;
  });
}
