// Device memory: one shared WebAssembly.Memory per device, with every allocation decided on the main thread.

import { DeviceMemoryError } from "../errors.js";
import { allocate, itemSize, type Storage, type StorageDType } from "../storage.js";
import { allocationAlignment, RangeAllocator } from "./allocator.js";

const pageBytes = 65536;

/** Bytes at offset 0 that are never handed out, so offset 0 can mean "no buffer". */
const nullGuardBytes = allocationAlignment;

export interface DeviceMemoryOptions {
  /** Name used in errors and logs, such as "cpu:0". */
  readonly device?: string;
  /** Bytes committed at creation; rounded up to whole 64 KiB pages. */
  readonly initialBytes?: number;
  /** Upper bound for growth in bytes; at most 4 GiB, the wasm32 limit. */
  readonly capacityBytes?: number;
}

/** 4 GiB: the largest wasm32 memory, room for about 10^9 float32 values per device. */
export const defaultCapacityBytes = 65536 * pageBytes;

export class DeviceMemory {
  readonly device: string;
  readonly memory: WebAssembly.Memory;
  readonly capacityBytes: number;
  readonly #allocator: RangeAllocator;

  constructor(options: DeviceMemoryOptions = {}) {
    this.device = options.device ?? "cpu:0";
    const capacityPages = Math.min(65536, Math.ceil((options.capacityBytes ?? defaultCapacityBytes) / pageBytes));
    const initialPages = Math.min(capacityPages, Math.max(1, Math.ceil((options.initialBytes ?? 16 * pageBytes) / pageBytes)));
    this.capacityBytes = capacityPages * pageBytes;
    this.memory = new WebAssembly.Memory({ initial: initialPages, maximum: capacityPages, shared: true });
    this.#allocator = new RangeAllocator(nullGuardBytes, initialPages * pageBytes);
  }

  /** Bytes currently allocated (each request rounded up to 16). */
  get bytesInUse(): number {
    return this.#allocator.bytesInUse;
  }

  /** Bytes the memory currently spans (committed by grows so far). */
  get bytesCommitted(): number {
    return this.memory.buffer.byteLength;
  }

  get liveAllocations(): number {
    return this.#allocator.liveAllocations;
  }

  /**
   * Returns the start and byte size of the live allocation that contains byte `offset`, or undefined
   * when no live allocation does. The size is the request rounded up to 16 bytes.
   */
  allocationContaining(offset: number): { readonly offset: number; readonly bytes: number } | undefined {
    return this.#allocator.rangeContaining(offset);
  }

  /** Allocates `bytes`, 16-byte aligned, growing the memory if needed; returns the byte offset. */
  alloc(bytes: number): number {
    if (!Number.isInteger(bytes) || bytes < 0) {
      throw new DeviceMemoryError(`alloc on ${this.device}: the request must be a non-negative integer byte count, got ${bytes}`);
    }
    const offset = this.#allocator.allocate(bytes) ?? (this.#grow(bytes), this.#allocator.allocate(bytes));
    if (offset === null) throw this.#outOfMemory(bytes);
    return offset;
  }

  /** Frees the allocation that starts at `offset`. */
  free(offset: number): void {
    if (!this.#allocator.release(offset)) {
      throw new DeviceMemoryError(`free on ${this.device}: no live allocation starts at byte ${offset}; it was never allocated or is already freed`);
    }
  }

  /** Returns a typed-array view of `length` elements of `dtype` at `offset` that shares memory with the device. */
  view(dtype: StorageDType, offset: number, length: number): Storage {
    const buffer = this.memory.buffer;
    switch (dtype) {
      case "float32":
        return new Float32Array(buffer, offset, length);
      case "float64":
        return new Float64Array(buffer, offset, length);
      case "int32":
        return new Int32Array(buffer, offset, length);
      case "bool":
        return new Uint8Array(buffer, offset, length);
      default:
        return dtype satisfies never;
    }
  }

  /** Copies `data` into device memory at `offset`. */
  write(offset: number, data: Storage): void {
    new Uint8Array(this.memory.buffer, offset, data.byteLength).set(new Uint8Array(data.buffer, data.byteOffset, data.byteLength));
  }

  /** Copies `length` elements of `dtype` at `offset` out into a new (unshared) typed array. */
  read(dtype: StorageDType, offset: number, length: number): Storage {
    // A byte copy into an unshared buffer runs about twice as fast in V8 as slice() of a typed array
    // on shared memory (measured with Node 20 on a 4 MB copy).
    const out = allocate(dtype, length);
    new Uint8Array(out.buffer).set(new Uint8Array(this.memory.buffer, offset, out.byteLength));
    return out;
  }

  /** Allocates room for `data` and copies it in; returns the offset. */
  upload(data: Storage): number {
    const offset = this.alloc(data.byteLength);
    this.write(offset, data);
    return offset;
  }

  /** Allocates `length` elements of `dtype`. */
  allocElements(dtype: StorageDType, length: number): number {
    return this.alloc(length * itemSize(dtype));
  }

  /** Grows enough for `bytes` more at the top: at least double the current size, capped by the capacity. */
  #grow(bytes: number): void {
    const current = this.memory.buffer.byteLength;
    const needed = current + Math.max(0, Math.ceil(bytes / allocationAlignment) * allocationAlignment - this.#allocator.freeTail);
    if (needed > this.capacityBytes) return;
    const target = Math.min(this.capacityBytes, Math.max(needed, 2 * current));
    const pages = Math.ceil((target - current) / pageBytes);
    // The engine may refuse to commit a large grow (RangeError), so fall back to what this request needs.
    // If that fails as well, alloc reports the request as out of memory.
    if (!tryGrow(this.memory, pages) && !tryGrow(this.memory, Math.ceil((needed - current) / pageBytes))) return;
    this.#allocator.extend(this.memory.buffer.byteLength);
  }

  #outOfMemory(bytes: number): DeviceMemoryError {
    return new DeviceMemoryError(
      `alloc on ${this.device}: cannot allocate ${bytes} bytes; capacity is ${this.capacityBytes} bytes with ` +
        `${this.bytesInUse} in use and a largest free range of ${this.#allocator.largestFree} bytes. Free unused ` +
        `buffers or create the device with a larger capacityBytes (at most 4 GiB; for the default device, ` +
        `nb.configureDevice({ capacityBytes }) or NABLA_DEVICE_BYTES).`,
    );
  }
}

function tryGrow(memory: WebAssembly.Memory, pages: number): boolean {
  try {
    memory.grow(pages);
    return true;
  } catch (error) {
    if (error instanceof RangeError) return false;
    throw error;
  }
}
