// DTypes, their storage and the promotion rules of binary ops.

import { DTypeError } from "../runtime/errors.js";
import type { StorageDType } from "../runtime/storage.js";

/** Element type of a tensor. */
export type DType = StorageDType;

export const dtypes: readonly DType[] = ["bool", "int32", "float32", "float64"];

/** Rank in the promotion lattice bool < int32 < float32 < float64. */
const rank: Record<DType, number> = { bool: 0, int32: 1, float32: 2, float64: 3 };

export function isFloating(dtype: DType): boolean {
  return dtype === "float32" || dtype === "float64";
}

/** Checks a user-supplied dtype name; `int64` is accepted and narrowed to int32 by the caller. */
export function parseDType(value: unknown, op: string): DType | "int64" {
  if (value === "int64" || (typeof value === "string" && value in rank)) return value as DType | "int64";
  throw new DTypeError(`${op}: unknown dtype ${JSON.stringify(value)}; use one of ${dtypes.join(", ")} (int64 input is narrowed to int32)`);
}

/** Returns the dtype both operands are cast to: the higher of the two in bool < int32 < float32 < float64. */
export function promoteTypes(a: DType, b: DType): DType {
  return rank[a] >= rank[b] ? a : b;
}

/**
 * Returns the result dtype of a tensor combined with a JavaScript number. Numbers are weakly typed, as in JAX
 * and PyTorch: they never widen a tensor's dtype, except that a fractional number makes an integer or
 * bool tensor float32.
 */
export function promoteWithScalar(tensorDType: DType, value: number | boolean): DType {
  if (typeof value === "boolean") return tensorDType;
  if (isFloating(tensorDType)) return tensorDType;
  if (!Number.isInteger(value)) return "float32";
  return tensorDType === "bool" ? "int32" : tensorDType;
}

/** Returns the float dtype an op that needs floats computes in: float64 stays, everything else becomes float32. */
export function floatTypeFor(dtype: DType): DType {
  return dtype === "float64" ? "float64" : "float32";
}
