// The steps of a WebAssembly program and the buffer references they use.

import type { StorageDType, Storage } from "../../runtime/storage.js";
import type { CompiledKernel } from "../../runtime/wasm/kernel.js";
import type { CollectiveSpec } from "../../runtime/mesh/builders.js";

/** A place in the arena: buffer `buffer`, starting `elementOffset` elements in. */
export interface BufferRef {
  readonly buffer: number;
  readonly elementOffset: number;
  readonly dtype: StorageDType;
}

/** An i32 argument of a kernel: the byte address of a buffer reference, or a literal value. */
export type KernelArg = BufferRef | number;

/**
 * A launch of the kernel's exported `run` with `args`. Plain data, so the same step runs on the main
 * thread or, serialised, on a mesh worker.
 */
export interface KernelStep {
  readonly kind: "kernel";
  readonly label: string;
  readonly kernel: CompiledKernel;
  readonly args: readonly KernelArg[];
  /**
   * For kernels that return a status: nonzero means element (status - 1) of `indices` is outside
   * [0, bound), and the launch raises an IndexError naming `op`.
   */
  readonly indexCheck?: IndexCheck;
}

export interface IndexCheck {
  readonly op: string;
  readonly indices: BufferRef;
  readonly bound: number;
}

/** Copies boundary input `input` into `target` before the kernels run. */
export interface UploadStep {
  readonly kind: "upload";
  readonly input: number;
  readonly target: BufferRef;
}

/** Runs a reference implementation on typed-array views of its dense inputs and copies the result to `target`. */
export interface ReferenceStep {
  readonly kind: "reference";
  readonly label: string;
  readonly inputs: readonly { readonly ref: BufferRef; readonly length: number }[];
  readonly target: BufferRef;
  readonly run: (inputs: readonly Storage[]) => Storage;
}

/** A mesh collective over dense blocks; only programs lowered for a mesh contain it. */
export interface CollectiveStep {
  readonly kind: "collective";
  readonly spec: CollectiveSpec;
  readonly input: BufferRef;
  readonly output: BufferRef;
}

export type Step = KernelStep | UploadStep | ReferenceStep | CollectiveStep;
