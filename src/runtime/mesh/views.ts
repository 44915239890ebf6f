// Typed-array views over a device memory, rebuilt when the memory grows and replaces its buffer.

import { ValueError } from "../errors.js";
import { itemSize, type StorageDType } from "../storage.js";

export type NumericArray = Float32Array | Float64Array | Int32Array;
export type ElementArray = NumericArray | Uint8Array;

export class MemoryViews {
  readonly memory: WebAssembly.Memory;
  #buffer: ArrayBuffer | SharedArrayBuffer | undefined;
  #f32!: Float32Array;
  #f64!: Float64Array;
  #i32!: Int32Array;
  #u8!: Uint8Array;

  constructor(memory: WebAssembly.Memory) {
    this.memory = memory;
  }

  /** Whole-memory array of `dtype`; element i is at byte i * itemSize. */
  array(dtype: StorageDType): ElementArray {
    this.#refresh();
    switch (dtype) {
      case "float32":
        return this.#f32;
      case "float64":
        return this.#f64;
      case "int32":
        return this.#i32;
      case "bool":
        return this.#u8;
      default:
        return dtype satisfies never;
    }
  }

  get bytes(): Uint8Array {
    this.#refresh();
    return this.#u8;
  }

  #refresh(): void {
    const buffer = this.memory.buffer;
    if (buffer === this.#buffer) return;
    this.#buffer = buffer;
    this.#f32 = new Float32Array(buffer);
    this.#f64 = new Float64Array(buffer, 0, Math.floor(buffer.byteLength / 8));
    this.#i32 = new Int32Array(buffer);
    this.#u8 = new Uint8Array(buffer);
  }
}

/** Element index of a byte offset; raises when the offset is not aligned to the element size. */
export function elementIndex(byteOffset: number, dtype: StorageDType, where: string): number {
  const size = itemSize(dtype);
  if (byteOffset % size !== 0) throw new ValueError(`${where}: byte offset ${byteOffset} is not aligned to ${size}-byte ${dtype} elements`);
  return byteOffset / size;
}
