// Batched float32 matmul C[b] = op(A[b]) . op(B[b]) with optional bias and activation, blocked as in
// GotoBLAS: B is packed by KC x NC blocks, A by MC x KC blocks, and an MR x NR register tile runs over
// the packed panels. Packing absorbs every transposition, so all four variants share one micro-kernel.

import { ShapeError, ValueError } from "../../errors.js";
import { ModuleBuilder } from "../emitter/module.js";
import { relaxedSimdSupported } from "../features.js";
import { compileKernel, instantiate, type CompiledKernel } from "../kernel.js";
import { buildDriver, buildEdgeIn, buildEdgeOut } from "./driver.js";
import { buildMicroKernel, buildPacker, buildRowPacker, type MicroShape } from "./micro.js";
import type { MatmulSpec } from "./spec.js";

export type { MatmulSpec } from "./spec.js";


export interface MatmulOptions {
  readonly relaxed?: boolean;
  readonly micro?: MicroShape;
}

export interface MatmulKernel {
  readonly key: string;
  readonly kernel: CompiledKernel;
  /** Bytes of scratch memory `run` needs at `work`. */
  readonly workBytes: number;
  run(memory: WebAssembly.Memory, a: number, b: number, c: number, bias: number, work: number): void;
}

interface Blocking extends MicroShape {
  readonly kcBlock: number;
  readonly mcBlock: number;
  readonly ncBlock: number;
}

/**
 * Register tiles, chosen by best-of-6 runs at n = 512 on an AMD EPYC (Zen 4) under Node 20, each run
 * next to the ceiling kernel. Plain SIMD: 3x16 (12 accumulators) reached 64% of the ceiling, and 2x16,
 * 4x8, 6x8, 4x12 and 2x24 57-62%. With relaxed_madd, 4x12 reached 74% and 3x16 71%.
 */
const defaultMicro: MicroShape = { mr: 3, nr: 16 };
const defaultRelaxedMicro: MicroShape = { mr: 4, nr: 12 };

export function matmulKernel(spec: MatmulSpec, options: MatmulOptions = {}): MatmulKernel {
  checkSpec(spec);
  const relaxed = options.relaxed ?? relaxedSimdSupported();
  const micro = options.micro ?? (relaxed ? defaultRelaxedMicro : defaultMicro);
  const blocking = chooseBlocking(spec, micro);
  const key = matmulKey(spec, blocking, relaxed);
  const kernel = compileKernel(key, () => buildMatmul(spec, blocking, relaxed));
  return {
    key,
    kernel,
    workBytes: layoutWork(blocking).total,
    run(memory, a, b, c, bias, work) {
      (instantiate(kernel, memory).exports.run as (...args: number[]) => void)(a, b, c, bias, work);
    },
  };
}

function matmulKey(spec: MatmulSpec, blocking: Blocking, relaxed: boolean): string {
  const { batch, m, k, n } = spec;
  const layout = `${spec.transA ? "T" : "N"}${spec.transB ? "T" : "N"}`;
  const strides = `${spec.batchStrideA ?? m * k},${spec.batchStrideB ?? k * n}`;
  const epilogue = spec.bias || (spec.activation ?? "none") !== "none" ? ` bias=${spec.bias ? 1 : 0} act=${spec.activation ?? "none"}` : "";
  const tile = `${blocking.mr}x${blocking.nr} kc=${blocking.kcBlock} mc=${blocking.mcBlock} nc=${blocking.ncBlock}`;
  return `matmul f32 ${layout} b=${batch} m=${m} k=${k} n=${n} batchStrides=${strides}${epilogue} tile=${tile}${relaxed ? " relaxed" : ""}`;
}

function checkSpec(spec: MatmulSpec): void {
  for (const name of ["batch", "m", "k", "n"] as const) {
    if (!Number.isInteger(spec[name]) || spec[name] < 1) {
      throw new ShapeError(`matmul: ${name} must be a positive integer, got ${spec[name]}; empty products are handled before kernel generation`);
    }
  }
  if (spec.activation !== undefined && spec.activation !== "none" && !spec.bias) {
    throw new ValueError(`matmul: activation "${spec.activation}" needs the bias epilogue; pass bias: true with a zero bias`);
  }
}

function roundUp(x: number, step: number): number {
  return Math.ceil(x / step) * step;
}

/**
 * KC x NR floats of packed B (8 KiB at KC = 256) stay in L1 while a packed MC x KC block of A
 * (128 KiB) stays in L2; these are sized for common x86-64 and ARM cores, not tuned per machine.
 */
function chooseBlocking(spec: MatmulSpec, micro: MicroShape): Blocking {
  return {
    ...micro,
    kcBlock: Math.min(spec.k, 256),
    mcBlock: Math.min(roundUp(spec.m, micro.mr), roundUp(128, micro.mr)),
    ncBlock: Math.min(roundUp(spec.n, micro.nr), roundUp(2048, micro.nr)),
  };
}

function layoutWork(b: Blocking): { packedA: number; packedB: number; tile: number; tileBias: number; total: number } {
  const packedA = 0;
  const packedB = packedA + b.mcBlock * b.kcBlock * 4;
  const tile = packedB + b.kcBlock * b.ncBlock * 4;
  const tileBias = tile + b.mr * b.nr * 4;
  return { packedA, packedB, tile, tileBias, total: tileBias + b.nr * 4 };
}

function buildMatmul(spec: MatmulSpec, blocking: Blocking, relaxed: boolean): ModuleBuilder {
  const { m, k, n } = spec;
  const module = new ModuleBuilder();
  const micro = module.addFunction("micro", buildMicroKernel(blocking, spec.activation ?? "none", relaxed, 4), false);
  // A lane is a row of A and a B lane is a column of B; strides are in elements of the stored matrices.
  const packA = module.addFunction("packA", spec.transA ? contiguousPacker(blocking.mr, m) : buildPacker(blocking.mr, k, 1), false);
  const packB = module.addFunction("packB", spec.transB ? buildPacker(blocking.nr, k, 1) : contiguousPacker(blocking.nr, n), false);
  const edgeIn = module.addFunction("edgeIn", buildEdgeIn(blocking, n), false);
  const edgeOut = module.addFunction("edgeOut", buildEdgeOut(blocking, n), false);
  module.addFunction("run", buildDriver(spec, blocking, layoutWork(blocking), { micro, packA, packB, edgeIn, edgeOut }));
  return module;
}

/**
 * Picks the packer for operands whose lanes are contiguous. Panels narrower than a 64-byte cache line
 * are packed row by row, because walking their short segments down a column conflicts in the cache.
 * Wider panels are packed panel by panel, because row by row would scatter the writes at a stride of
 * kc * width * 4 bytes (16 KiB at kc = 256, width = 16), which maps every write to the same cache set.
 */
function contiguousPacker(width: number, kStride: number): ReturnType<typeof buildPacker> {
  return width * 4 < 64 ? buildRowPacker(width, kStride) : buildPacker(width, 1, kStride);
}
