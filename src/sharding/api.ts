// Placing tensors on a mesh: shard, replicate, reshard, and sharding constraints inside traced code.

import type { Node } from "../core/node.js";
import { Tensor, type TensorSharding } from "../core/tensor.js";
import { isTracing } from "../core/trace-state.js";
import { ShardingError } from "../runtime/errors.js";
import { DeviceMesh } from "./mesh.js";
import { checkSpec, ShardingSpec, type MeshLayout } from "./spec.js";

/** A mesh plus the spec of a tensor's shards on it, like JAX's NamedSharding. */
export class NamedSharding implements TensorSharding {
  constructor(
    readonly mesh: DeviceMesh,
    readonly spec: ShardingSpec,
  ) {}

  toString(): string {
    return `NamedSharding(mesh [${this.mesh.shape.join(", ")}] axes [${this.mesh.axisNames.join(", ")}], ${this.spec})`;
  }
}

/** Returns the sharding of `x` with its full types, or null for a tensor on one device. */
export function shardingOf(x: Tensor): NamedSharding | null {
  return x.sharding as NamedSharding | null;
}

function withSharding(x: Tensor, sharding: NamedSharding): Tensor {
  const out = new Tensor(x.node);
  out.sharding = sharding;
  return out;
}

/**
 * Returns `x` placed on `mesh` with `spec` (a spec shorter than the rank replicates the remaining
 * dimensions). Compiled functions called with it run on the mesh, each device on its shard.
 */
export function shard(x: Tensor, mesh: DeviceMesh, spec: ShardingSpec, name = "shard: tensor"): Tensor {
  checkTensor(x, "shard");
  checkMesh(mesh, "shard");
  return withSharding(x, new NamedSharding(mesh, checkSpec(spec, x.shape, mesh, `${name} of shape [${x.shape.join(", ")}]`)));
}

/** Returns `x` replicated on every device of `mesh`. */
export function replicate(x: Tensor, mesh: DeviceMesh): Tensor {
  return shard(x, mesh, ShardingSpec.replicated(x.ndim), "replicate: tensor");
}

/** Returns `x` on the same mesh with a new spec. */
export function reshard(x: Tensor, spec: ShardingSpec): Tensor {
  checkTensor(x, "reshard");
  const current = shardingOf(x);
  if (current === null) {
    throw new ShardingError(`reshard: the tensor of shape [${x.shape.join(", ")}] is not on a mesh; place it with nb.shard(x, mesh, ${spec}) instead`);
  }
  return shard(x, current.mesh, spec, "reshard: tensor");
}

const constraints = new WeakMap<Node, ShardingSpec>();

/**
 * Inside a compiled function on a mesh, requests the layout `spec` for `x` at this point, and the
 * partitioner inserts the collectives. Outside tracing it reshards `x` like nb.reshard.
 */
export function withShardingConstraint(x: Tensor, spec: ShardingSpec): Tensor {
  checkTensor(x, "withShardingConstraint");
  if (!isTracing()) return reshard(x, spec);
  if (spec.rank > x.ndim) {
    throw new ShardingError(`withShardingConstraint: spec ${spec} has ${spec.rank} entries but the tensor has rank ${x.ndim} (shape [${x.shape.join(", ")}]); give at most one entry per dimension`);
  }
  constraints.set(x.node, spec);
  return x;
}

/** Returns the constraint recorded on a traced node, if any. */
export function constraintOf(node: Node): ShardingSpec | undefined {
  return constraints.get(node);
}

/** Checks a constraint against the mesh the program runs on, naming the node. */
export function checkConstraint(node: Node, mesh: MeshLayout): ShardingSpec | undefined {
  const spec = constraints.get(node);
  return spec === undefined ? undefined : checkSpec(spec, node.shape, mesh, `withShardingConstraint on a value of shape [${node.shape.join(", ")}]`);
}

/** Rejects anything but a DeviceMesh, naming the usual mistake: a mesh from DeviceMesh.create that was not awaited. */
export function checkMesh(mesh: unknown, op: string): asserts mesh is DeviceMesh {
  if (mesh instanceof DeviceMesh) return;
  if (mesh instanceof Promise) throw new ShardingError(`${op}: the mesh is a Promise; await nb.DeviceMesh.create(...) before using the mesh`);
  throw new ShardingError(`${op}: expected an nb.DeviceMesh, got ${mesh === null ? "null" : typeof mesh}; create one with await nb.DeviceMesh.create(shape, axisNames)`);
}

function checkTensor(x: unknown, op: string): asserts x is Tensor {
  if (!(x instanceof Tensor)) throw new ShardingError(`${op}: expected a Tensor, got ${x === null ? "null" : typeof x}; wrap data with nb.tensor first`);
}
