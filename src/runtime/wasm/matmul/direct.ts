// Batched float64 and int32 matmul C[b] = op(A[b]) . op(B[b]) without packing A: each row of C is a
// sum over k of A(i, k) times row k of B, eight float64 (sixteen int32) columns per register block.
// Each output accumulates over k in order with separate multiply and add, so float64 results equal
// the reference loop bit for bit, and int32 results wrap around modulo 2^32 like i32.mul and i32.add.

import { ShapeError } from "../../errors.js";
import { CodeBuilder, type Local } from "../emitter/code.js";
import { ModuleBuilder } from "../emitter/module.js";
import { compileKernel, instantiate, type CompiledKernel } from "../kernel.js";
import { emitFor } from "../loops.js";

export type DirectMatmulDType = "float64" | "int32";

export interface DirectMatmulSpec {
  readonly dtype: DirectMatmulDType;
  readonly batch: number;
  readonly m: number;
  readonly k: number;
  readonly n: number;
  /** A is stored [K, M]. */
  readonly transA: boolean;
  /** B is stored [N, K]; it is copied to [K, N] in the scratch memory first. */
  readonly transB: boolean;
  /** Elements between consecutive batch matrices of A and B; 0 broadcasts one matrix. */
  readonly batchStrideA: number;
  readonly batchStrideB: number;
}

export interface DirectMatmulKernel {
  readonly key: string;
  readonly kernel: CompiledKernel;
  /** Bytes of scratch memory `run` needs at `work` (0 unless B is transposed). */
  readonly workBytes: number;
  run(memory: WebAssembly.Memory, a: number, b: number, c: number, work: number): void;
}

/** Vector accumulators per register block: four v128 locals hide the latency of the add chain. */
const blockVectors = 4;

interface Ops {
  readonly bytes: number;
  readonly lanes: number;
  readonly load: "f64.load" | "i32.load";
  readonly store: "f64.store" | "i32.store";
  readonly scalarType: "f64" | "i32";
  readonly add: "f64.add" | "i32.add";
  readonly mul: "f64.mul" | "i32.mul";
  readonly splat: "f64x2.splat" | "i32x4.splat";
  readonly vectorAdd: "f64x2.add" | "i32x4.add";
  readonly vectorMul: "f64x2.mul" | "i32x4.mul";
}

const opsByDType: Record<DirectMatmulDType, Ops> = {
  float64: { bytes: 8, lanes: 2, load: "f64.load", store: "f64.store", scalarType: "f64", add: "f64.add", mul: "f64.mul", splat: "f64x2.splat", vectorAdd: "f64x2.add", vectorMul: "f64x2.mul" },
  int32: { bytes: 4, lanes: 4, load: "i32.load", store: "i32.store", scalarType: "i32", add: "i32.add", mul: "i32.mul", splat: "i32x4.splat", vectorAdd: "i32x4.add", vectorMul: "i32x4.mul" },
};

export function directMatmulKernel(spec: DirectMatmulSpec): DirectMatmulKernel {
  const { batch, m, k, n } = spec;
  if (![batch, m, k, n].every((d) => Number.isInteger(d) && d >= 1)) {
    throw new ShapeError(`matmul ${spec.dtype}: batch, m, k and n must be positive integers, got ${batch}, ${m}, ${k}, ${n}`);
  }
  const layout = `${spec.transA ? "T" : "N"}${spec.transB ? "T" : "N"}`;
  const key = `matmul ${spec.dtype} ${layout} b=${batch} m=${m} k=${k} n=${n} batchStrides=${spec.batchStrideA},${spec.batchStrideB}`;
  const kernel = compileKernel(key, () => buildMatmul(spec, opsByDType[spec.dtype]));
  return {
    key,
    kernel,
    workBytes: spec.transB ? k * n * opsByDType[spec.dtype].bytes : 0,
    run(memory, a, b, c, work) {
      (instantiate(kernel, memory).exports.run as (...args: number[]) => void)(a, b, c, work);
    },
  };
}

interface Pointers {
  readonly a: Local;
  readonly b: Local;
  readonly c: Local;
  readonly rowA: Local;
  readonly walkA: Local;
  readonly walkB: Local;
  readonly counter: Local;
}

function buildMatmul(spec: DirectMatmulSpec, ops: Ops): ModuleBuilder {
  const c = new CodeBuilder([["a", "i32"], ["b", "i32"], ["c", "i32"], ["work", "i32"]]);
  const [a, b, out, work] = c.params;
  const [t, i, baseA, baseB, rowA, walkA, walkB, counter] = ["t", "i", "baseA", "baseB", "rowA", "walkA", "walkB", "counter"].map((name) => c.local("i32", name));
  const pointers: Pointers = { a: baseA, b: baseB, c: out, rowA, walkA, walkB, counter };

  emitFor(c, t, spec.batch, 1, () => {
    c.get(a).get(t).i32(spec.batchStrideA * ops.bytes).op("i32.mul").op("i32.add").set(baseA);
    c.get(b).get(t).i32(spec.batchStrideB * ops.bytes).op("i32.mul").op("i32.add").set(baseB);
    if (spec.transB) {
      emitTransposeCopy(c, spec, ops, baseB, work, [walkA, walkB, counter, rowA]);
      c.get(work).set(baseB);
    }
    emitFor(c, i, spec.m, 1, () => {
      c.get(baseA).get(i).i32((spec.transA ? 1 : spec.k) * ops.bytes).op("i32.mul").op("i32.add").set(rowA);
      emitRow(c, spec, ops, pointers);
      c.get(out).i32(spec.n * ops.bytes).op("i32.add").set(out);
    });
  });
  const module = new ModuleBuilder();
  module.addFunction("run", c);
  return module;
}

/** Copies B stored [N, K] at `source` to row-major [K, N] at `target`. */
function emitTransposeCopy(c: CodeBuilder, spec: DirectMatmulSpec, ops: Ops, source: Local, target: Local, [from, to, j, p]: Local[]): void {
  emitFor(c, j, spec.n, 1, () => {
    c.get(source).get(j).i32(spec.k * ops.bytes).op("i32.mul").op("i32.add").set(from);
    c.get(target).get(j).i32(ops.bytes).op("i32.mul").op("i32.add").set(to);
    emitFor(c, p, spec.k, 1, () => {
      c.get(to).get(from).mem(ops.load).mem(ops.store);
      c.get(from).i32(ops.bytes).op("i32.add").set(from);
      c.get(to).i32(spec.n * ops.bytes).op("i32.add").set(to);
    });
  });
}

/** Emits one row of C: register blocks of `blockVectors` vectors, then single vectors, then scalar columns. */
function emitRow(c: CodeBuilder, spec: DirectMatmulSpec, ops: Ops, pointers: Pointers): void {
  const blockColumns = blockVectors * ops.lanes;
  const blocks = Math.floor(spec.n / blockColumns);
  const block = c.local("i32", "block");
  emitFor(c, block, blocks, 1, () => {
    const columnBytes = (): void => void c.get(block).i32(blockColumns * ops.bytes).op("i32.mul");
    emitVectorColumns(c, spec, ops, pointers, blockVectors, columnBytes);
  });
  let column = blocks * blockColumns;
  const vectors = Math.floor((spec.n - column) / ops.lanes);
  if (vectors > 0) {
    const start = column;
    emitVectorColumns(c, spec, ops, pointers, vectors, () => void c.i32(start * ops.bytes));
    column += vectors * ops.lanes;
  }
  for (; column < spec.n; column++) emitScalarColumn(c, spec, ops, pointers, column);
}

/** Accumulates `count` vectors of columns starting at the byte offset that `pushColumnBytes` pushes. */
function emitVectorColumns(c: CodeBuilder, spec: DirectMatmulSpec, ops: Ops, p: Pointers, count: number, pushColumnBytes: () => void): void {
  const acc = Array.from({ length: count }, () => c.local("v128", "acc"));
  const scale = c.local("v128", "scale");
  const columnOffset = c.local("i32", "columnOffset");
  pushColumnBytes();
  c.set(columnOffset);
  for (const v of acc) c.i32(0).simd("i32x4.splat").set(v);
  c.get(p.rowA).set(p.walkA);
  c.get(p.b).get(columnOffset).op("i32.add").set(p.walkB);
  emitFor(c, p.counter, spec.k, 1, () => {
    c.get(p.walkA).mem(ops.load).simd(ops.splat).set(scale);
    acc.forEach((v, index) => {
      c.get(v).get(scale).get(p.walkB).vmem("v128.load", 16 * index).simd(ops.vectorMul).simd(ops.vectorAdd).set(v);
    });
    c.get(p.walkA).i32((spec.transA ? spec.m : 1) * ops.bytes).op("i32.add").set(p.walkA);
    c.get(p.walkB).i32(spec.n * ops.bytes).op("i32.add").set(p.walkB);
  });
  acc.forEach((v, index) => {
    c.get(p.c).get(columnOffset).op("i32.add").get(v).vmem("v128.store", 16 * index);
  });
}

function emitScalarColumn(c: CodeBuilder, spec: DirectMatmulSpec, ops: Ops, p: Pointers, column: number): void {
  const sum = c.local(ops.scalarType, "sum");
  if (ops.scalarType === "f64") c.f64(0).set(sum);
  else c.i32(0).set(sum);
  c.get(p.rowA).set(p.walkA);
  c.get(p.b).i32(column * ops.bytes).op("i32.add").set(p.walkB);
  emitFor(c, p.counter, spec.k, 1, () => {
    c.get(sum).get(p.walkA).mem(ops.load).get(p.walkB).mem(ops.load).op(ops.mul).op(ops.add).set(sum);
    c.get(p.walkA).i32((spec.transA ? spec.m : 1) * ops.bytes).op("i32.add").set(p.walkA);
    c.get(p.walkB).i32(spec.n * ops.bytes).op("i32.add").set(p.walkB);
  });
  c.get(p.c).i32(column * ops.bytes).op("i32.add").get(sum).mem(ops.store);
}
