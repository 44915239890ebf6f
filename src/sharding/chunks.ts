// Shard bounds per device. Dimensions are split like torch.chunk, in ceil-sized chunks, so the last
// shards may be short or empty when the axis size does not divide the dimension.

import type { MeshLayout, ShardingSpec } from "./spec.js";

/** Returns [start, stop) of chunk `index` of `parts` ceil-sized chunks of a dimension of size `n`. */
export function chunkBounds(n: number, parts: number, index: number): [number, number] {
  const size = Math.ceil(n / parts);
  const start = Math.min(n, index * size);
  return [start, Math.min(n, start + size)];
}

/** Row-major coordinates of `device` on a mesh of `shape`. */
export function meshCoordinates(shape: readonly number[], device: number): number[] {
  const coordinates = new Array<number>(shape.length);
  let rest = device;
  for (let axis = shape.length - 1; axis >= 0; axis--) {
    coordinates[axis] = rest % shape[axis];
    rest = Math.floor(rest / shape[axis]);
  }
  return coordinates;
}

/**
 * Returns the per-dimension [start, stop) of `device`'s shard. A dimension split by several mesh axes is split by
 * the first into chunks, each chunk by the next, and so on.
 */
export function shardBounds(shape: readonly number[], spec: ShardingSpec, mesh: MeshLayout, device: number): [number, number][] {
  const coordinates = meshCoordinates(mesh.shape, device);
  return shape.map((n, dim) => {
    let [start, stop] = [0, n];
    for (const axis of spec.dims[dim] ?? []) {
      const a = mesh.axisNames.indexOf(axis);
      const [from, to] = chunkBounds(stop - start, mesh.shape[a], coordinates[a]);
      [start, stop] = [start + from, start + to];
    }
    return [start, stop];
  });
}

/** Shape of `device`'s shard. */
export function shardShape(shape: readonly number[], spec: ShardingSpec, mesh: MeshLayout, device: number): number[] {
  return shardBounds(shape, spec, mesh, device).map(([start, stop]) => stop - start);
}

/** Copies `device`'s shard of a row-major `data` of `shape` into a new array of the same type. */
export function extractShard<T extends ArrayLike<number> & { slice(start?: number, end?: number): T }>(
  data: T,
  shape: readonly number[],
  bounds: readonly (readonly [number, number])[],
  allocate: (length: number) => T & { [i: number]: number },
): T {
  const local = bounds.map(([start, stop]) => stop - start);
  const out = allocate(local.reduce((a, b) => a * b, 1));
  forEachIndex(local, (index, flat) => {
    out[flat] = data[globalOffset(shape, bounds, index)];
  });
  return out;
}

/** Writes a shard back into its place in a row-major array of `shape`. */
export function insertShard(target: { [i: number]: number }, shape: readonly number[], bounds: readonly (readonly [number, number])[], shard: ArrayLike<number>): void {
  const local = bounds.map(([start, stop]) => stop - start);
  forEachIndex(local, (index, flat) => {
    target[globalOffset(shape, bounds, index)] = shard[flat];
  });
}

function globalOffset(shape: readonly number[], bounds: readonly (readonly [number, number])[], index: readonly number[]): number {
  let offset = 0;
  for (let d = 0; d < shape.length; d++) offset = offset * shape[d] + bounds[d][0] + index[d];
  return offset;
}

function forEachIndex(shape: readonly number[], visit: (index: number[], flat: number) => void): void {
  const total = shape.reduce((a, b) => a * b, 1);
  const index = new Array<number>(shape.length).fill(0);
  for (let flat = 0; flat < total; flat++) {
    visit(index, flat);
    for (let d = shape.length - 1; d >= 0; d--) {
      if (++index[d] < shape[d]) break;
      index[d] = 0;
    }
  }
}
