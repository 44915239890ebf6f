// The steps of a WebAssembly program and the buffer references they use.

import type { StorageDType, Storage } from "../../runtime/storage.js";

/** A place in the arena: buffer `buffer`, starting `elementOffset` elements in. */
export interface BufferRef {
  readonly buffer: number;
  readonly elementOffset: number;
  readonly dtype: StorageDType;
}

/** A launch: `launch(memory, byteOffsets)` where byteOffsets follow `refs` in order. */
export interface KernelStep {
  readonly kind: "kernel";
  readonly label: string;
  readonly refs: readonly BufferRef[];
  readonly launch: (memory: WebAssembly.Memory, byteOffsets: readonly number[]) => void;
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

export type Step = KernelStep | UploadStep | ReferenceStep;
