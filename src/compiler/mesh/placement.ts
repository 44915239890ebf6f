// The mesh a compiled call runs on and the spec of every argument leaf. The compile options'
// inShardings come first, then the tensors' own shardings. Everything else is replicated.

import { treeFlatten, treeFlattenWithNumbers } from "../../core/pytree.js";
import { Tensor } from "../../core/tensor.js";
import { InternalError, ShardingError } from "../../runtime/errors.js";
import { checkMesh, shardingOf } from "../../sharding/api.js";
import type { DeviceMesh } from "../../sharding/mesh.js";
import { checkSpec, ShardingSpec } from "../../sharding/spec.js";

/** A spec for every leaf of one positional argument, or null/undefined to take the tensors' own. */
export type ArgSharding = ShardingSpec | null | undefined;

export interface MeshCompileOptions {
  /** The mesh to run on when no argument carries a sharding. */
  readonly mesh?: DeviceMesh;
  /** Per positional argument: the spec of each of its tensor leaves (a shorter spec replicates trailing dimensions). */
  readonly inShardings?: readonly ArgSharding[];
  /** One spec for every output leaf, or one per element of an array result. */
  readonly outShardings?: ShardingSpec | readonly ArgSharding[];
}

export interface MeshPlacement {
  readonly mesh: DeviceMesh;
  /** Full-rank spec of every leaf (numbers and unsharded tensors replicated). */
  readonly specs: readonly ShardingSpec[];
}

/** Number of leaves each positional argument contributes, in order (static arguments contribute none). */
function leafCounts(args: readonly unknown[], isStatic: (i: number) => boolean): number[] {
  return args.map((arg, i) => (isStatic(i) ? 0 : treeFlattenWithNumbers([arg]).leaves.length));
}

function meshOf(leaves: readonly (Tensor | number)[], options: MeshCompileOptions, name: string): DeviceMesh | undefined {
  let found: { mesh: DeviceMesh; leaf: number } | undefined = options.mesh === undefined ? undefined : { mesh: options.mesh, leaf: -1 };
  leaves.forEach((leaf, i) => {
    const sharding = leaf instanceof Tensor ? shardingOf(leaf) : null;
    if (sharding === null) return;
    if (found === undefined) found = { mesh: sharding.mesh, leaf: i };
    else if (found.mesh !== sharding.mesh) {
      const first = found.leaf < 0 ? "the compile option mesh" : `argument leaf ${found.leaf}`;
      throw new ShardingError(`compile ${name}: argument leaf ${i} is on ${sharding.mesh} but ${first} is on ${found.mesh}; put every argument on the same mesh (nb.shard with one DeviceMesh)`);
    }
  });
  return found?.mesh;
}

/**
 * Returns the mesh and each leaf's spec, or undefined when nothing places the call on a mesh. `leaves`
 * are the flattened dynamic arguments followed by the random key.
 */
export function placeLeaves(args: readonly unknown[], isStatic: (i: number) => boolean, leaves: readonly (Tensor | number)[], options: MeshCompileOptions, name: string): MeshPlacement | undefined {
  if (options.inShardings !== undefined && options.mesh === undefined) {
    throw new ShardingError(`compile ${name}: inShardings needs the mesh they refer to; pass compile(fn, { mesh, inShardings })`);
  }
  if (options.mesh !== undefined) checkMesh(options.mesh, `compile ${name}`);
  const mesh = meshOf(leaves, options, name);
  if (mesh === undefined) return undefined;
  const counts = leafCounts(args, isStatic);
  if (counts.reduce((a, b) => a + b, 0) + 1 !== leaves.length) throw new InternalError(`compile ${name}: argument leaves do not line up with the flattened arguments`);

  const specs: ShardingSpec[] = [];
  let next = 0;
  counts.forEach((count, arg) => {
    const override = options.inShardings?.[arg];
    for (let k = 0; k < count; k++, next++) specs.push(leafSpec(leaves[next], override, mesh, `compile ${name}: argument ${arg} leaf ${k}`));
  });
  specs.push(ShardingSpec.replicated(1));
  return { mesh, specs };
}

function leafSpec(leaf: Tensor | number, override: ArgSharding, mesh: DeviceMesh, label: string): ShardingSpec {
  if (!(leaf instanceof Tensor)) return ShardingSpec.replicated(0);
  const own = shardingOf(leaf);
  const spec = override ?? own?.spec ?? ShardingSpec.replicated(leaf.ndim);
  return checkSpec(spec, leaf.shape, mesh, `${label} of shape [${leaf.shape.join(", ")}]`);
}

/** Returns the requested spec of every output leaf of `out`, or undefined where the partitioner decides. */
export function outputSpecs(out: unknown, outShardings: MeshCompileOptions["outShardings"], name: string): (ShardingSpec | undefined)[] | undefined {
  if (outShardings === undefined) return undefined;
  if (outShardings instanceof ShardingSpec) return treeFlatten(out).leaves.map(() => outShardings);
  if (!Array.isArray(out) || out.length !== outShardings.length) {
    throw new ShardingError(`compile ${name}: outShardings has ${outShardings.length} entries, so the function must return an array of that length; pass one spec to use it for every output`);
  }
  return out.flatMap((element, i) => treeFlatten(element).leaves.map(() => outShardings[i] ?? undefined));
}

/** Describes the placement of a leaf for the cache key. */
export function describePlacement(placement: MeshPlacement | undefined, leaf: number): string {
  if (placement === undefined) return "single";
  const { mesh } = placement;
  return `mesh[${mesh.shape.join(",")}](${mesh.axisNames.join(",")})#${meshId(mesh)} ${placement.specs[leaf]}`;
}

const meshIds = new WeakMap<DeviceMesh, number>();
let nextMeshId = 1;

/** Numbers mesh objects, so two meshes of the same shape get different cache entries. */
function meshId(mesh: DeviceMesh): number {
  let id = meshIds.get(mesh);
  if (id === undefined) meshIds.set(mesh, (id = nextMeshId++));
  return id;
}
