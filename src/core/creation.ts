// Creating leaf tensors from JavaScript data and by formula (zeros, arange, eye, ...).

import { DTypeError, ShapeError, ValueError } from "../runtime/errors.js";
import { allocate, type Storage } from "../runtime/storage.js";
import { isFloating, parseDType, type DType } from "./dtype.js";
import { Node } from "./node.js";
import { checkShape, formatShape, sizeOf, type Shape } from "./shape.js";
import { Tensor } from "./tensor.js";

export type TypedArrayInput =
  | Float32Array
  | Float64Array
  | Int32Array
  | Int16Array
  | Int8Array
  | Uint8Array
  | Uint16Array
  | BigInt64Array;

export type NestedData = number | boolean | bigint | readonly NestedData[];

export type TensorData = NestedData | TypedArrayInput;

export interface TensorOptions {
  /** Element type; `int64` is accepted and narrowed to int32 with a range check. */
  readonly dtype?: DType | "int64";
  /** Shape for flat data; by default the nesting of the data gives the shape. */
  readonly shape?: readonly number[];
  readonly requiresGrad?: boolean;
}

const int32Min = -2147483648;
const int32Max = 2147483647;

/** Makes a leaf tensor from a storage the caller hands over (it must not be mutated afterwards). */
export function fromStorage(data: Storage, shape: Shape, dtype: DType, requiresGrad = false): Tensor {
  if (requiresGrad && !isFloating(dtype)) {
    throw new DTypeError(`tensor: only floating-point tensors can require gradients, this one is ${dtype}; pass dtype "float32"`);
  }
  return new Tensor(Node.leaf({ shape: [...shape], dtype }, data, requiresGrad));
}

function inferShape(data: NestedData): number[] {
  const shape: number[] = [];
  let level: NestedData = data;
  while (Array.isArray(level)) {
    shape.push(level.length);
    if (level.length === 0) break;
    level = level[0] as NestedData;
  }
  return shape;
}

function flattenNested(data: NestedData, shape: readonly number[], op: string): (number | boolean | bigint)[] {
  const flat: (number | boolean | bigint)[] = [];
  const walk = (value: NestedData, depth: number, path: string): void => {
    if (depth === shape.length) {
      if (Array.isArray(value)) throw new ShapeError(`${op}: ragged nesting at ${path}; every row at a depth must have the same length`);
      flat.push(value as number | boolean | bigint);
      return;
    }
    if (!Array.isArray(value) || value.length !== shape[depth]) {
      const length = Array.isArray(value) ? `length ${value.length}` : "a scalar";
      throw new ShapeError(`${op}: ragged nesting at ${path}: expected length ${shape[depth]}, found ${length}; every row at a depth must have the same length`);
    }
    value.forEach((v, i) => walk(v as NestedData, depth + 1, `${path}[${i}]`));
  };
  walk(data, 0, "data");
  return flat;
}

function inferDType(values: ArrayLike<number | boolean | bigint>, source: TensorData): DType | "int64" {
  if (source instanceof Float32Array) return "float32";
  if (source instanceof Float64Array) return "float64";
  if (source instanceof BigInt64Array) return "int64";
  if (ArrayBuffer.isView(source)) return "int32";
  if (values.length === 0) return "float32";
  if (typeof values[0] === "boolean") return "bool";
  if (typeof values[0] === "bigint") return "int64";
  return "float32";
}

/** Narrows int64 values to int32, naming the first value outside the int32 range and its flat index. */
function narrowInt64(values: ArrayLike<number | boolean | bigint>, op: string): Int32Array {
  const out = new Int32Array(values.length);
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    // BigInt() throws a RangeError on NaN and infinities, so those are rejected here first.
    if (typeof v !== "bigint" && !Number.isFinite(Number(v))) {
      throw new DTypeError(`${op}: int64 value ${Number(v)} at index ${i} is not a finite number; int64 elements must be integers`);
    }
    const n = typeof v === "bigint" ? v : BigInt(Math.trunc(Number(v)));
    if (n < BigInt(int32Min) || n > BigInt(int32Max)) {
      throw new DTypeError(`${op}: int64 value ${n} at index ${i} does not fit in int32 [${int32Min}, ${int32Max}]; nabla-ts stores integers as int32`);
    }
    out[i] = Number(n);
  }
  return out;
}

function toStorage(values: ArrayLike<number | boolean | bigint>, dtype: DType, op: string): Storage {
  const out = allocate(dtype, values.length);
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    if (typeof v !== "number" && typeof v !== "boolean" && typeof v !== "bigint") {
      throw new ValueError(`${op}: element ${i} is ${typeof v}; elements must be numbers, booleans or bigints`);
    }
    const n = Number(v);
    if (dtype === "int32" && !(n >= int32Min && n <= int32Max)) {
      throw new DTypeError(`${op}: value ${v} at index ${i} does not fit in int32 [${int32Min}, ${int32Max}]; use a float dtype for it`);
    }
    if (dtype === "bool") out[i] = n !== 0 ? 1 : 0;
    else if (dtype === "int32") out[i] = Math.trunc(n);
    else out[i] = n;
  }
  return out;
}

/** Creates a leaf tensor from nested arrays, a number, a boolean or a typed array. JavaScript numbers default to float32. */
export function tensor(data: TensorData, options: TensorOptions = {}): Tensor {
  const op = "tensor";
  const requested = options.dtype === undefined ? undefined : parseDType(options.dtype, op);
  let values: ArrayLike<number | boolean | bigint>;
  let shape: number[];

  if (ArrayBuffer.isView(data)) {
    values = data as ArrayLike<number | bigint>;
    shape = [values.length];
  } else {
    shape = inferShape(data as NestedData);
    values = flattenNested(data as NestedData, shape, op);
  }

  if (options.shape !== undefined) {
    checkShape(op, options.shape);
    if (sizeOf(options.shape) !== values.length) {
      throw new ShapeError(`${op}: shape ${formatShape(options.shape)} has ${sizeOf(options.shape)} elements but the data has ${values.length}`);
    }
    shape = [...options.shape];
  }

  const dtype = requested ?? inferDType(values, data);
  const storage = dtype === "int64" ? narrowInt64(values, op) : toStorage(values, dtype, op);
  return fromStorage(storage, shape, dtype === "int64" ? "int32" : dtype, options.requiresGrad ?? false);
}

export interface CreationOptions {
  readonly dtype?: DType;
  readonly requiresGrad?: boolean;
}

export function full(shape: readonly number[], value: number | boolean, options: CreationOptions = {}): Tensor {
  checkShape("full", shape);
  const dtype = options.dtype ?? (typeof value === "boolean" ? "bool" : "float32");
  const data = allocate(dtype, sizeOf(shape));
  data.fill(Number(value));
  return fromStorage(data, shape, dtype, options.requiresGrad);
}

export function zeros(shape: readonly number[], options: CreationOptions = {}): Tensor {
  return full(shape, 0, options);
}

export function ones(shape: readonly number[], options: CreationOptions = {}): Tensor {
  return full(shape, 1, options);
}

export function zerosLike(x: Tensor, options: CreationOptions = {}): Tensor {
  return full(x.shape, 0, { dtype: x.dtype, ...options });
}

export function onesLike(x: Tensor, options: CreationOptions = {}): Tensor {
  return full(x.shape, 1, { dtype: x.dtype, ...options });
}

/**
 * Evenly spaced values in [start, stop) like `torch.arange`: `arange(n)`, `arange(start, stop, step)`.
 * The dtype is int32 when every argument is an integer, float32 otherwise.
 */
export function arange(start: number, stop?: number, step = 1, options: CreationOptions = {}): Tensor {
  const [from, to] = stop === undefined ? [0, start] : [start, stop];
  if (step === 0 || !Number.isFinite(step)) throw new ValueError(`arange: step must be a finite nonzero number, got ${step}`);
  const count = Math.max(0, Math.ceil((to - from) / step));
  const integral = [from, to, step].every(Number.isInteger);
  const dtype = options.dtype ?? (integral ? "int32" : "float32");
  const data = allocate(dtype, count);
  for (let i = 0; i < count; i++) data[i] = from + i * step;
  return fromStorage(data, [count], dtype, options.requiresGrad);
}

/** `num` evenly spaced values from start to stop inclusive, like `torch.linspace`. */
export function linspace(start: number, stop: number, num: number, options: CreationOptions = {}): Tensor {
  if (!Number.isInteger(num) || num < 0) throw new ValueError(`linspace: num must be a non-negative integer, got ${num}`);
  const dtype = options.dtype ?? "float32";
  const data = allocate(dtype, num);
  const step = num > 1 ? (stop - start) / (num - 1) : 0;
  for (let i = 0; i < num; i++) data[i] = i === num - 1 && num > 1 ? stop : start + i * step;
  return fromStorage(data, [num], dtype, options.requiresGrad);
}

/** Creates an n x m matrix with ones on the diagonal. */
export function eye(n: number, m = n, options: CreationOptions = {}): Tensor {
  checkShape("eye", [n, m]);
  const dtype = options.dtype ?? "float32";
  const data = allocate(dtype, n * m);
  for (let i = 0; i < Math.min(n, m); i++) data[i * m + i] = 1;
  return fromStorage(data, [n, m], dtype, options.requiresGrad);
}

/** Creates a scalar constant, which lifts JavaScript numbers into ops. */
export function scalar(value: number | boolean, dtype: DType): Tensor {
  const data = allocate(dtype, 1);
  data[0] = Number(value);
  return fromStorage(data, [], dtype);
}
