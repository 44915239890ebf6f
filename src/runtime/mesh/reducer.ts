// A device's reduction kernels, instantiated on its own memory, plus the scratch area they stage peers' data in.

import type { StorageDType } from "../storage.js";
import { instantiate } from "../wasm/kernel.js";
import type { ReduceOp } from "./program.js";
import { combineExport, divideExport, reduceKernelKey } from "./reduce-kernels.js";

export type CombineKernel = (out: number, a: number, b: number, bytes: number) => void;
export type DivideKernel = (out: number, bytes: number, divisor: number) => void;

export class Reducer {
  /** Byte offsets of two scratch chunks in the device's memory, and the size of each. */
  readonly scratch: readonly [number, number];
  readonly chunkBytes: number;
  readonly #module: WebAssembly.Module;
  readonly #memory: WebAssembly.Memory;
  #exports: WebAssembly.Exports | undefined;

  constructor(module: WebAssembly.Module, memory: WebAssembly.Memory, scratchOffset: number, scratchBytes: number) {
    this.#module = module;
    this.#memory = memory;
    this.chunkBytes = Math.floor(scratchBytes / 2 / 16) * 16;
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
