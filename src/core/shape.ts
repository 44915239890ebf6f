// Shapes: broadcasting, axis normalisation and formatting.

import { IndexError, ShapeError } from "../runtime/errors.js";
export { sizeOf, stridesOf } from "../runtime/storage.js";

export type Shape = readonly number[];

export function formatShape(shape: Shape): string {
  return `[${shape.join(", ")}]`;
}

export function shapesEqual(a: Shape, b: Shape): boolean {
  return a.length === b.length && a.every((d, i) => d === b[i]);
}

/** NumPy broadcasting of any number of shapes; names the op and the shapes when they do not fit. */
export function broadcastShapes(op: string, ...shapes: Shape[]): number[] {
  const rank = Math.max(...shapes.map((s) => s.length));
  const out = new Array<number>(rank).fill(1);

  for (const shape of shapes) {
    const lead = rank - shape.length;
    shape.forEach((d, i) => {
      const current = out[lead + i];
      if (current === 1) out[lead + i] = d;
      else if (d !== 1 && d !== current) {
        throw new ShapeError(
          `${op}: shapes ${shapes.map(formatShape).join(" and ")} cannot be broadcast together ` +
            `(dimension ${lead + i} is ${current} vs ${d}); each dimension must match or be 1`,
        );
      }
    });
  }
  return out;
}

/** Resolves a possibly negative axis against `rank`, naming the op when it is out of range. */
export function normalizeAxis(op: string, axis: number, rank: number): number {
  if (!Number.isInteger(axis) || axis < -rank || axis >= rank) {
    const valid = rank === 0 ? "a scalar has no axes" : `use an axis in [${-rank}, ${rank - 1}]`;
    throw new IndexError(`${op}: axis ${axis} is out of range for a tensor of rank ${rank}; ${valid}`);
  }
  return axis < 0 ? axis + rank : axis;
}

/** Resolves an axis, a list of axes, or `undefined` (all axes) to sorted distinct non-negative axes. */
export function normalizeAxes(op: string, axis: number | readonly number[] | undefined | null, rank: number): number[] {
  if (axis === undefined || axis === null) return Array.from({ length: rank }, (_, i) => i);
  const list = typeof axis === "number" ? [axis] : axis;
  const resolved = list.map((a) => normalizeAxis(op, a, rank));
  const unique = [...new Set(resolved)].sort((a, b) => a - b);
  if (unique.length !== resolved.length) {
    throw new IndexError(`${op}: axis list [${list.join(", ")}] names the same axis twice; list each axis once`);
  }
  return unique;
}

/** Checks that every dimension is a non-negative integer. */
export function checkShape(op: string, shape: readonly number[]): void {
  for (const d of shape) {
    if (!Number.isInteger(d) || d < 0) {
      throw new ShapeError(`${op}: shape ${formatShape(shape)} has invalid dimension ${d}; dimensions must be non-negative integers`);
    }
  }
}
