// Storage dtypes and the typed arrays that hold a buffer's elements.

/** Element types a buffer can hold. `bool` is stored as one byte per element (0 or 1). */
export type StorageDType = "float32" | "float64" | "int32" | "bool";

/** The typed array behind a buffer of each dtype. */
export type Storage = Float32Array | Float64Array | Int32Array | Uint8Array;

/** Allocates a zero-filled storage of `size` elements. */
export function allocate(dtype: StorageDType, size: number): Storage {
  switch (dtype) {
    case "float32":
      return new Float32Array(size);
    case "float64":
      return new Float64Array(size);
    case "int32":
      return new Int32Array(size);
    case "bool":
      return new Uint8Array(size);
    default:
      return dtype satisfies never;
  }
}

/** Bytes per element of each dtype. */
export function itemSize(dtype: StorageDType): number {
  if (dtype === "float64") return 8;
  return dtype === "bool" ? 1 : 4;
}

/** Returns the dtype whose storage class matches `data`. */
export function storageDType(data: Storage): StorageDType {
  if (data instanceof Float32Array) return "float32";
  if (data instanceof Float64Array) return "float64";
  if (data instanceof Int32Array) return "int32";
  return "bool";
}

/** Number of elements of a shape; the empty shape is a scalar with one element. */
export function sizeOf(shape: readonly number[]): number {
  let size = 1;
  for (const d of shape) size *= d;
  return size;
}

/** Row-major (C order) strides in elements. */
export function stridesOf(shape: readonly number[]): number[] {
  const strides = new Array<number>(shape.length);
  let stride = 1;
  for (let i = shape.length - 1; i >= 0; i--) {
    strides[i] = stride;
    stride *= shape[i];
  }
  return strides;
}
