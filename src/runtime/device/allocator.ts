// First-fit allocator over byte ranges with a sorted, coalescing free list. It only does bookkeeping;
// DeviceMemory owns the WebAssembly.Memory and grows it when `allocate` returns null.

import { InternalError } from "../errors.js";

/** Every allocation starts and ends on this many bytes, the width of one v128 load. */
export const allocationAlignment = 16;

interface Range {
  offset: number;
  bytes: number;
}

export class RangeAllocator {
  /** Free ranges sorted by offset, never adjacent (adjacent ranges are merged). */
  readonly #free: Range[] = [];
  readonly #used = new Map<number, number>();
  #bytesInUse = 0;
  #end: number;

  /** Manages `[start, end)`; `start` is reserved space such as a null guard. */
  constructor(start: number, end: number) {
    this.#end = end;
    if (end > start) this.#free.push({ offset: start, bytes: end - start });
  }

  get bytesInUse(): number {
    return this.#bytesInUse;
  }

  get liveAllocations(): number {
    return this.#used.size;
  }

  get end(): number {
    return this.#end;
  }

  /** Largest free range in bytes, as a fragmentation indicator. */
  get largestFree(): number {
    return this.#free.reduce((max, r) => Math.max(max, r.bytes), 0);
  }

  /** Returns the offset of a new range of at least `bytes` (rounded up to 16), or null if none is free. */
  allocate(bytes: number): number | null {
    const size = roundUp(Math.max(bytes, 1));
    const index = this.#free.findIndex((r) => r.bytes >= size);
    if (index < 0) return null;
    const range = this.#free[index];
    const offset = range.offset;
    if (range.bytes === size) this.#free.splice(index, 1);
    else {
      range.offset += size;
      range.bytes -= size;
    }
    this.#used.set(offset, size);
    this.#bytesInUse += size;
    return offset;
  }

  /** Returns the size of a live range, or undefined when `offset` is not the start of one. */
  sizeOf(offset: number): number | undefined {
    return this.#used.get(offset);
  }

  /** Returns the live range that contains byte `offset`, or undefined when none does. */
  rangeContaining(offset: number): { readonly offset: number; readonly bytes: number } | undefined {
    const bytes = this.#used.get(offset);
    if (bytes !== undefined) return { offset, bytes };
    for (const [start, size] of this.#used) if (offset > start && offset < start + size) return { offset: start, bytes: size };
    return undefined;
  }

  /** Releases the range starting at `offset`; returns false when no live range starts there. */
  release(offset: number): boolean {
    const size = this.#used.get(offset);
    if (size === undefined) return false;
    this.#used.delete(offset);
    this.#bytesInUse -= size;
    this.#insertFree(offset, size);
    return true;
  }

  /** Adds `[end, newEnd)` after the memory grew. */
  extend(newEnd: number): void {
    if (newEnd < this.#end) throw new InternalError(`allocator cannot shrink from ${this.#end} to ${newEnd}`);
    if (newEnd > this.#end) this.#insertFree(this.#end, newEnd - this.#end);
    this.#end = newEnd;
  }

  /** Free bytes at the top of the managed range, which a grow extends. */
  get freeTail(): number {
    const last = this.#free[this.#free.length - 1];
    return last !== undefined && last.offset + last.bytes === this.#end ? last.bytes : 0;
  }

  #insertFree(offset: number, bytes: number): void {
    let index = 0;
    while (index < this.#free.length && this.#free[index].offset < offset) index++;
    this.#free.splice(index, 0, { offset, bytes });
    const next = this.#free[index + 1];
    if (next !== undefined && offset + bytes === next.offset) {
      this.#free[index].bytes += next.bytes;
      this.#free.splice(index + 1, 1);
    }
    const previous = this.#free[index - 1];
    if (previous !== undefined && previous.offset + previous.bytes === offset) {
      previous.bytes += this.#free[index].bytes;
      this.#free.splice(index, 1);
    }
  }
}

function roundUp(bytes: number): number {
  return Math.ceil(bytes / allocationAlignment) * allocationAlignment;
}
