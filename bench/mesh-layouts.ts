// Mesh shapes for the step benchmarks: the `--mesh` list, and placing a batch on a mesh by rows.

import * as nb from "nabla-ts";

/** A mesh shape to measure, with its running mesh; `mesh` is undefined for the one-device shape [1]. */
export interface BenchLayout {
  readonly shape: readonly number[];
  readonly mesh: nb.DeviceMesh | undefined;
  /** Returns `x` split by rows (dimension 0) over every mesh axis, or `x` itself on one device. */
  place(x: nb.Tensor): nb.Tensor;
}

/** A bad flag of a benchmark script; the script prints its message and exits with 2. */
export class BenchUsageError extends Error {}

export const meshListAccepted = "comma-separated mesh shapes, axes joined by x (for example 1,2 or 1,2,2x2)";

/** Parses `--mesh 1,2,2x2` into shapes; [1] is always measured first, because speed-ups are relative to it. */
export function parseMeshList(raw: string): number[][] {
  const shapes = raw.split(",").map((part) => part.split("x").map((d) => (/^\d+$/.test(d) ? Number(d) : Number.NaN)));
  if (raw === "" || shapes.some((shape) => shape.some((d) => !Number.isSafeInteger(d) || d < 1))) {
    throw new BenchUsageError(`--mesh ${raw} is invalid; accepted values: ${meshListAccepted}`);
  }
  const key = (shape: readonly number[]): string => shape.join("x");
  const unique = [...new Map(shapes.map((shape) => [key(shape), shape])).values()];
  const isOne = (shape: readonly number[]): boolean => shape.every((d) => d === 1);
  return [[1], ...unique.filter((shape) => !isOne(shape))];
}

export function describeShape(shape: readonly number[]): string {
  return `[${shape.join(", ")}]`;
}

/** Starts the mesh of `shape` (axes "data", "data1", ...) and waits for its workers. */
export async function openBenchLayout(shape: readonly number[]): Promise<BenchLayout> {
  if (shape.every((d) => d === 1)) return { shape, mesh: undefined, place: (x) => x };
  const axisNames = shape.map((_, axis) => (axis === 0 ? "data" : `data${axis}`));
  const mesh = await nb.DeviceMesh.create(shape, axisNames);
  const spec = nb.P(axisNames);
  return { shape, mesh, place: (x) => nb.shard(x, mesh, spec) };
}
