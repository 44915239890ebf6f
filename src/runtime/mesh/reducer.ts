// A device's reduction kernels, instantiated on its own memory, and the layout of its scratch area.

import type { StorageDType } from "../storage.js";
import { instantiate } from "../wasm/kernel.js";
import type { ReduceOp } from "./program.js";
import { combineExport, divideExport, reduceKernelKey } from "./reduce-kernels.js";

/**
 * Scratch area reserved in every device memory: two chunks where reductions stage peers' data, then two
 * mailboxes where small collectives publish their input. Collectives alternate between the mailboxes,
 * so one barrier per collective is enough (see runCollective).
 */
export const scratchLayout = {
  chunkBytes: 32 * 1024,
  mailboxBytes: 16 * 1024,
  /** Byte offset of mailbox `parity` (0 or 1) from the start of the scratch area. */
  mailbox: (parity: number) => 2 * 32 * 1024 + parity * 16 * 1024,
  totalBytes: 2 * 32 * 1024 + 2 * 16 * 1024,
} as const;

export type CombineKernel = (out: number, a: number, b: number, bytes: number) => void;
export type DivideKernel = (out: number, bytes: number, divisor: number) => void;

export class Reducer {
  /** Byte offsets of two scratch chunks in the device's memory, and the size of each. */
  readonly scratch: readonly [number, number];
  readonly chunkBytes: number;
  readonly #module: WebAssembly.Module;
  readonly #memory: WebAssembly.Memory;
  #exports: WebAssembly.Exports | undefined;

  constructor(module: WebAssembly.Module, memory: WebAssembly.Memory, scratchOffset: number) {
    this.#module = module;
    this.#memory = memory;
    this.chunkBytes = scratchLayout.chunkBytes;
    this.scratch = [scratchOffset, scratchOffset + this.chunkBytes];
  }

  combine(op: ReduceOp, dtype: StorageDType): CombineKernel | undefined {
    const name = combineExport(op, dtype);
    return name === undefined ? undefined : (this.#instance()[name] as CombineKernel);
  }

  divide(dtype: StorageDType): DivideKernel | undefined {
    const name = divideExport(dtype);
    return name === undefined ? undefined : (this.#instance()[name] as DivideKernel);
  }

  #instance(): WebAssembly.Exports {
    this.#exports ??= instantiate({ key: reduceKernelKey, module: this.#module }, this.#memory).exports;
    return this.#exports;
  }
}
