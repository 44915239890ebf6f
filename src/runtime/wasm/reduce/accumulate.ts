// Accumulators of the reduction kernels. sum and prod accumulate in float64 (float32 lanes are
// promoted), so a sum of n terms has an error bound of about n * 2^-53 relative before the final
// rounding to float32. max and min stay in the input dtype, where f32x4.max and f32x4.min propagate NaN.

import type { CodeBuilder, Local } from "../emitter/code.js";
import type { Value } from "../elementwise/lanes.js";
import { f32x4Const, f64x2Const, keep } from "../math/vector.js";

export type ReduceKind = "sum" | "max" | "min" | "prod";
export type FloatDType = "float32" | "float64";

const identity: Record<ReduceKind, number> = { sum: 0, prod: 1, max: -Infinity, min: Infinity };

/** Vector state for four float32 lanes or two float64 lanes of input per step. */
export interface VectorAccumulator {
  /** Sets every lane to the identity of the reduction. */
  reset(): void;
  /** Folds the v128 on top of the stack (one input vector) into the state. */
  fold(): void;
  /** Folds another accumulator lane-wise into this one. */
  merge(other: VectorAccumulator): void;
  /** Pushes the combination of all lanes as one f64. */
  pushHorizontal(): void;
  /** Pushes the lanes as one v128 of the input dtype (four float32 or two float64 results). */
  pushLanes(): void;
  readonly parts: readonly Local[];
}

/** The SIMD lane operation of each reduction, as the suffix of f32x4/f64x2 instructions. */
const laneOps = { sum: "add", prod: "mul", max: "max", min: "min" } as const;

export function vectorAccumulator(c: CodeBuilder, kind: ReduceKind, dtype: FloatDType): VectorAccumulator {
  const wide = kind === "sum" || kind === "prod";
  const promote = wide && dtype === "float32";
  const parts = promote ? [c.local("v128", "accLow"), c.local("v128", "accHigh")] : [c.local("v128", "acc")];
  const laneType = promote || dtype === "float64" ? "f64x2" : "f32x4";
  const op = laneOps[kind];
  const incoming = c.local("v128", "incoming");
  const combine = (): void => {
    c.simd(`${laneType}.${op}`);
  };
  const pushIdentity = (): void => {
    if (laneType === "f64x2") f64x2Const(c, identity[kind]);
    else f32x4Const(c, identity[kind]);
  };
  return {
    parts,
    reset: () => parts.forEach((p) => (pushIdentity(), c.set(p))),
    fold() {
      if (!promote) {
        c.set(incoming).get(parts[0]).get(incoming);
        combine();
        c.set(parts[0]);
        return;
      }
      c.set(incoming);
      c.get(parts[0]).get(incoming).simd("f64x2.promote_low_f32x4");
      combine();
      c.set(parts[0]);
      c.get(parts[1]).get(incoming).get(incoming).shuffle([8, 9, 10, 11, 12, 13, 14, 15, 8, 9, 10, 11, 12, 13, 14, 15]);
      c.simd("f64x2.promote_low_f32x4");
      combine();
      c.set(parts[1]);
    },
    merge(other) {
      parts.forEach((p, k) => {
        c.get(p).get(other.parts[k]);
        combine();
        c.set(p);
      });
    },
    pushHorizontal() {
      const scalar = scalarOp(kind);
      const lanes = laneType === "f64x2" ? 2 : 4;
      let first = true;
      for (const p of parts) {
        for (let lane = 0; lane < lanes; lane++) {
          c.get(p).lane(laneType === "f64x2" ? "f64x2.extract_lane" : "f32x4.extract_lane", lane);
          if (laneType === "f32x4") c.op("f64.promote_f32");
          if (!first) c.op(scalar);
          first = false;
        }
      }
    },
    pushLanes() {
      if (!promote) {
        c.get(parts[0]);
        return;
      }
      c.get(parts[0]).simd("f32x4.demote_f64x2_zero").get(parts[1]).simd("f32x4.demote_f64x2_zero");
      c.shuffle([0, 1, 2, 3, 4, 5, 6, 7, 16, 17, 18, 19, 20, 21, 22, 23]);
    },
  };
}

const scalarOps = { sum: "f64.add", prod: "f64.mul", max: "f64.max", min: "f64.min" } as const;

export function scalarOp(kind: ReduceKind): (typeof scalarOps)[ReduceKind] {
  return scalarOps[kind];
}

export function scalarIdentity(kind: ReduceKind): number {
  return identity[kind];
}

/**
 * State for four lanes of an evaluated expression (a lanes.ts Value): one vector accumulator for
 * float32 lanes, one per f64x2 half for float64 lanes.
 */
export interface LaneAccumulator {
  reset(): void;
  /** Folds all four lanes of `value` into the state. */
  fold(value: Value): void;
  merge(other: LaneAccumulator): void;
  /** Pushes the combination of all lanes as one f64. */
  pushHorizontal(): void;
  /** Keeps the four lane results, in the input dtype, as a Value. */
  lanes(): Value;
  readonly halves: readonly VectorAccumulator[];
}

export function laneAccumulator(c: CodeBuilder, kind: ReduceKind, dtype: FloatDType): LaneAccumulator {
  const halves = dtype === "float32" ? [vectorAccumulator(c, kind, dtype)] : [vectorAccumulator(c, kind, dtype), vectorAccumulator(c, kind, dtype)];
  return {
    halves,
    reset: () => halves.forEach((h) => h.reset()),
    fold(value) {
      halves.forEach((h, k) => {
        c.get(value.parts[k]);
        h.fold();
      });
    },
    merge: (other) => halves.forEach((h, k) => h.merge(other.halves[k])),
    pushHorizontal() {
      halves.forEach((h, k) => {
        h.pushHorizontal();
        if (k > 0) c.op(scalarOp(kind));
      });
    },
    lanes() {
      const parts = halves.map((h) => {
        h.pushLanes();
        return keep(c, "lanes");
      });
      return { dtype, parts };
    },
  };
}

/** Folds lanes 0..lanes-1 of `value` one by one into the f64 local `scalar`. */
export function foldLanes(c: CodeBuilder, kind: ReduceKind, value: Value, lanes: number, scalar: Local): void {
  for (let lane = 0; lane < lanes; lane++) {
    c.get(scalar);
    if (value.dtype === "float32") c.get(value.parts[0]).lane("f32x4.extract_lane", lane).op("f64.promote_f32");
    else c.get(value.parts[lane >> 1]).lane("f64x2.extract_lane", lane & 1);
    c.op(scalarOp(kind)).set(scalar);
  }
}
