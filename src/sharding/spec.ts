// ShardingSpec: for each tensor dimension the mesh axes that split it, plus the mesh axes on which the
// tensor is a pending partial result (JAX's PartitionSpec with PyTorch DTensor's Partial placement).

import { ShardingError } from "../runtime/errors.js";

/** The reduction a partial result still owes: the full value is that reduction over the axis's devices. */
export type PartialOp = "sum" | "max" | "min";

/** One dimension's entry: a mesh axis name, several (split by the first, then within it by the next), or null for replicated. */
export type DimSpec = string | readonly string[] | null;

/** The part of a mesh a spec is checked against: its shape and axis names. */
export interface MeshLayout {
  readonly shape: readonly number[];
  readonly axisNames: readonly string[];
}

const partialOps: readonly PartialOp[] = ["sum", "max", "min"];

function describeDim(axes: readonly string[]): string {
  if (axes.length === 0) return "null";
  return axes.length === 1 ? JSON.stringify(axes[0]) : `[${axes.map((a) => JSON.stringify(a)).join(", ")}]`;
}

export class ShardingSpec {
  /** Mesh axes splitting each dimension, outermost first; empty for a replicated dimension. */
  readonly dims: readonly (readonly string[])[];
  /** Mesh axes on which the value is a pending partial result, with the reduction it still needs. */
  readonly partial: Readonly<Record<string, PartialOp>>;

  constructor(dims: readonly DimSpec[], partial: Readonly<Record<string, PartialOp>> = {}) {
    this.dims = dims.map((d, i) => {
      if (d === null) return [];
      if (typeof d === "string") return [d];
      if (!Array.isArray(d)) {
        throw new ShardingError(`ShardingSpec: entry ${i} is ${JSON.stringify(d) ?? String(d)}; each entry is a mesh axis name, an array of names, or null for a replicated dimension`);
      }
      return [...d];
    });
    this.partial = { ...partial };
    this.#checkAxesOnce();
  }

  /** A spec that replicates every one of `rank` dimensions. */
  static replicated(rank: number): ShardingSpec {
    return new ShardingSpec(new Array<DimSpec>(rank).fill(null));
  }

  get rank(): number {
    return this.dims.length;
  }

  /** Every mesh axis the spec names, splitting or partial. */
  get axes(): string[] {
    return [...this.dims.flat(), ...Object.keys(this.partial)];
  }

  get isReplicated(): boolean {
    return this.axes.length === 0;
  }

  /** Returns the same split with no pending partial results. */
  withoutPartial(): ShardingSpec {
    return new ShardingSpec(this.dims);
  }

  equals(other: ShardingSpec): boolean {
    return this.toString() === other.toString();
  }

  toString(): string {
    const partial = Object.entries(this.partial).map(([axis, op]) => `${axis}=${op}`);
    const suffix = partial.length > 0 ? `; partial ${partial.join(", ")}` : "";
    return `P(${this.dims.map(describeDim).join(", ")}${suffix})`;
  }

  #checkAxesOnce(): void {
    const seen = new Set<string>();
    for (const axis of this.axes) {
      if (typeof axis !== "string" || axis === "") {
        throw new ShardingError(`ShardingSpec: mesh axis names must be non-empty strings, got ${JSON.stringify(axis)}`);
      }
      if (seen.has(axis)) {
        throw new ShardingError(`ShardingSpec ${this}: mesh axis "${axis}" is used twice; each mesh axis may split one dimension or be partial, not both`);
      }
      seen.add(axis);
    }
    for (const [axis, op] of Object.entries(this.partial)) {
      if (!partialOps.includes(op)) {
        throw new ShardingError(`ShardingSpec: partial op ${JSON.stringify(op)} on axis "${axis}" is not one of ${partialOps.join(", ")}`);
      }
    }
  }
}

/** Builds a spec from one entry per dimension, like JAX's `P("data", None)`: `nb.P("data", null)`. */
export function P(...dims: DimSpec[]): ShardingSpec {
  return new ShardingSpec(dims);
}

/**
 * Checks `spec` against a tensor of `shape` on `mesh`, naming `tensor` (how the caller refers to it) in
 * the error. A spec shorter than the rank replicates the trailing dimensions, as in JAX.
 */
export function checkSpec(spec: ShardingSpec, shape: readonly number[], mesh: MeshLayout, tensor: string): ShardingSpec {
  if (spec.rank > shape.length) {
    throw new ShardingError(
      `${tensor}: spec ${spec} has ${spec.rank} entries but the tensor has rank ${shape.length} (shape [${shape.join(", ")}]); give at most one entry per dimension`,
    );
  }
  for (const axis of spec.axes) {
    if (!mesh.axisNames.includes(axis)) {
      throw new ShardingError(`${tensor}: spec ${spec} names mesh axis "${axis}", but the mesh has axes [${mesh.axisNames.join(", ")}]; use one of those`);
    }
  }
  const padded = [...spec.dims, ...new Array<readonly string[]>(shape.length - spec.rank).fill([])];
  return new ShardingSpec(padded, spec.partial);
}
