// Converts a pytree of tensors and plain values to tagged msgpack values and back.
//
// Arrays, strings, numbers, booleans and null are stored as themselves. Every map is tagged with a
// single key, so a plain object that looks like a tensor still round-trips:
//   { o: { ...fields } }                         a plain object
//   { t: [dtype, shape, bytes, requiresGrad] }   a tensor, bytes in little-endian element order

import { fromStorage } from "../core/creation.js";
import { dtypes, type DType } from "../core/dtype.js";
import { Tensor } from "../core/tensor.js";
import { SerializationError, ValueError } from "../runtime/errors.js";
import { itemSize, sizeOf, type Storage } from "../runtime/storage.js";

type Encoded = null | boolean | number | string | Encoded[] | { o: Record<string, Encoded> } | { t: [DType, number[], Uint8Array, boolean] };

/** Encodes `value` for msgpack; raises a ValueError naming the path of the first unsupported value. */
export function encodeTree(value: unknown, op: string, path = "root"): Encoded {
  if (value === null || typeof value === "boolean" || typeof value === "string") return value;
  // NOTE: msgpackr writes -0 as the integer 0, so a number -0 loads as 0 (tensors keep -0).
  if (typeof value === "number") return value;
  if (value instanceof Tensor) return { t: [value.dtype, [...value.shape], tensorBytes(value), value.requiresGrad] };
  if (Array.isArray(value)) return value.map((item, i) => encodeTree(item, op, `${path}[${i}]`));
  if (typeof value === "object" && value !== null && isPlainObject(value)) {
    const fields: Record<string, Encoded> = {};
    for (const [key, item] of Object.entries(value)) fields[key] = encodeTree(item, op, `${path}.${key}`);
    return { o: fields };
  }
  throw new ValueError(`${op}: ${path} is ${describe(value)}, which cannot be saved; save tensors, numbers, strings, booleans, null, arrays and plain objects (for a module, save module.stateDict())`);
}

/** Decodes what encodeTree produced; raises a SerializationError naming `file` and the path of a malformed value. */
export function decodeTree(value: unknown, file: string, path = "root"): unknown {
  if (value === null || typeof value === "boolean" || typeof value === "string" || typeof value === "number") return value;
  if (Array.isArray(value)) return value.map((item, i) => decodeTree(item, file, `${path}[${i}]`));
  if (typeof value === "object" && isPlainObject(value)) {
    const keys = Object.keys(value);
    const tagged = value as Record<string, unknown>;
    if (keys.length === 1 && keys[0] === "o" && typeof tagged.o === "object" && tagged.o !== null) {
      const fields = tagged.o as Record<string, unknown>;
      return Object.fromEntries(Object.entries(fields).map(([key, item]) => [key, decodeTree(item, file, `${path}.${key}`)]));
    }
    if (keys.length === 1 && keys[0] === "t") return decodeTensor(tagged.t, file, path);
  }
  throw new SerializationError(file, `the value at ${path} is not one that nb.save writes`);
}

function decodeTensor(fields: unknown, file: string, path: string): Tensor {
  const malformed = (): SerializationError => new SerializationError(file, `the tensor at ${path} is malformed`);
  if (!Array.isArray(fields) || fields.length !== 4) throw malformed();
  const [dtype, shape, bytes, requiresGrad] = fields as unknown[];
  if (!dtypes.includes(dtype as DType)) throw malformed();
  if (!Array.isArray(shape) || !shape.every((d) => Number.isInteger(d) && d >= 0)) throw malformed();
  if (!(bytes instanceof Uint8Array) || typeof requiresGrad !== "boolean") throw malformed();

  const expected = sizeOf(shape as number[]) * itemSize(dtype as DType);
  if (bytes.length !== expected) {
    throw new SerializationError(file, `the tensor at ${path} (${String(dtype)} [${shape.join(", ")}]) has ${bytes.length} data bytes, expected ${expected}`);
  }
  // A copy, because msgpack may hand out an unaligned view into the file's bytes.
  const storage = viewAs(dtype as DType, new Uint8Array(bytes).buffer);
  return fromStorage(storage, shape as number[], dtype as DType, requiresGrad);
}

/** Views a copy of the tensor's storage as bytes, in the platform's byte order (little-endian on every Node target). */
function tensorBytes(t: Tensor): Uint8Array {
  const data = t.toArray();
  return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
}

function viewAs(dtype: DType, buffer: ArrayBuffer): Storage {
  switch (dtype) {
    case "float32":
      return new Float32Array(buffer);
    case "float64":
      return new Float64Array(buffer);
    case "int32":
      return new Int32Array(buffer);
    case "bool":
      return new Uint8Array(buffer);
    default:
      return dtype satisfies never;
  }
}

function isPlainObject(value: object): boolean {
  const proto = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}

function describe(value: unknown): string {
  if (value === undefined) return "undefined";
  if (typeof value === "object" && value !== null) return `an instance of ${value.constructor?.name ?? "an unknown class"}`;
  return `a ${typeof value}`;
}
