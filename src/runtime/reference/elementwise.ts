// Reference elementwise loops: operands already share one shape (broadcasting is an explicit op).

import { allocate, type Storage, type StorageDType } from "../storage.js";

/** Applies `f` to each element; JavaScript numbers are float64, the store rounds to `dtype`. */
export function map1(x: Storage, dtype: StorageDType, f: (a: number) => number): Storage {
  const out = allocate(dtype, x.length);
  for (let i = 0; i < x.length; i++) out[i] = f(x[i]);
  return out;
}

/** Applies `f` to each pair of elements of two equally sized storages. */
export function map2(a: Storage, b: Storage, dtype: StorageDType, f: (x: number, y: number) => number): Storage {
  const out = allocate(dtype, a.length);
  for (let i = 0; i < a.length; i++) out[i] = f(a[i], b[i]);
  return out;
}

/** Applies `f` to each triple of elements of three equally sized storages. */
export function map3(
  a: Storage,
  b: Storage,
  c: Storage,
  dtype: StorageDType,
  f: (x: number, y: number, z: number) => number,
): Storage {
  const out = allocate(dtype, a.length);
  for (let i = 0; i < a.length; i++) out[i] = f(a[i], b[i], c[i]);
  return out;
}

/**
 * Converts every element to `dtype`. Floats to int32 truncate toward zero and saturate at the int32
 * range, with NaN and infinities becoming 0. For bool, anything nonzero becomes `true`.
 */
export function castStorage(x: Storage, dtype: StorageDType): Storage {
  if (dtype === "bool") return map1(x, dtype, (v) => (v !== 0 ? 1 : 0));
  if (dtype === "int32") return map1(x, dtype, (v) => (Number.isFinite(v) ? Math.min(2147483647, Math.max(-2147483648, Math.trunc(v))) : 0));
  const out = allocate(dtype, x.length);
  out.set(x);
  return out;
}
