// The program under construction: buffers, steps and each node's value, plus the expression
// bookkeeping that lets consumers fuse pending elementwise work.

import type { StridedView } from "../../core/lowering.js";
import type { Node } from "../../core/node.js";
import type { Schedule } from "../../core/schedule.js";
import { sizeOf, stridesOf } from "../../core/shape.js";
import { InternalError } from "../../runtime/errors.js";
import { itemSize, type StorageDType } from "../../runtime/storage.js";
import { elementwiseKernel } from "../../runtime/wasm/elementwise/kernel.js";
import { input as inputExpr, type Expr } from "../../runtime/wasm/elementwise/ir.js";
import type { PlannedBuffer } from "./memory-plan.js";
import type { BufferRef, Step } from "./steps.js";

/** A node's value while lowering: a (possibly strided) view of a buffer, or a pending fused expression. */
export type Value =
  | { readonly kind: "buffer"; readonly buffer: number; readonly view: StridedView; readonly dtype: StorageDType }
  | { readonly kind: "expr"; readonly expr: Expr };

/** Leaves of pending expressions: reads of a buffer through a view, numbered across the whole program. */
export interface Leaf {
  readonly buffer: number;
  readonly view: StridedView;
  readonly dtype: StorageDType;
}

// Larger fusions make kernels with many parameters and long compile times for little gain.
const maxLeaves = 12;
const maxExprNodes = 64;

export class ProgramBuilder {
  readonly steps: Step[] = [];
  readonly buffers: PlannedBuffer[] = [];
  readonly #leaves: Leaf[] = [];
  readonly #values = new Map<Node, Value>();

  constructor(readonly schedule: Schedule) {}

  valueOf(node: Node): Value {
    const value = this.#values.get(node);
    if (value === undefined) throw new InternalError(`wasm lowering: node ${node.id} (${node.prim ?? node.kind}) has no value yet`);
    return value;
  }

  setValue(node: Node, value: Value): void {
    this.#values.set(node, value);
  }

  /** Declares a new buffer of `length` elements of `dtype`, written first by the next step. */
  newBuffer(dtype: StorageDType, length: number, firstStep = this.steps.length): number {
    this.buffers.push({ bytes: length * itemSize(dtype), firstStep, lastStep: firstStep });
    return this.buffers.length - 1;
  }

  /** Records that the next step reads `buffer`. */
  use(buffer: number): void {
    this.buffers[buffer].lastStep = Math.max(this.buffers[buffer].lastStep, this.steps.length);
  }

  ref(buffer: number, elementOffset: number, dtype: StorageDType): BufferRef {
    this.use(buffer);
    return { buffer, elementOffset, dtype };
  }

  /** Returns the value as an expression over leaves, adding a leaf for a buffer view. */
  asExpr(value: Value): Expr {
    if (value.kind === "expr") return value.expr;
    this.#leaves.push({ buffer: value.buffer, view: value.view, dtype: value.dtype });
    return inputExpr(this.#leaves.length - 1);
  }

  /** True when an expression is large enough that it should be materialized before growing further. */
  isLarge(expr: Expr): boolean {
    const leaves = new Set<number>();
    let nodes = 0;
    visitExpr(expr, (e) => {
      nodes++;
      if (e.kind === "input") leaves.add(e.index);
    });
    return leaves.size > maxLeaves || nodes > maxExprNodes;
  }

  /** Writes `value` into a new dense buffer, unless it already is a dense view, and returns that view. */
  materialize(value: Value, shape: readonly number[], dtype: StorageDType): Value & { kind: "buffer" } {
    if (value.kind === "buffer" && isDense(value.view, shape)) return value;
    const buffer = this.emitElementwise(this.asExpr(value), shape, dtype);
    return { kind: "buffer", buffer, view: { strides: stridesOf(shape), offset: 0 }, dtype };
  }

  /** Emits one fused kernel computing `expr` over `shape`; returns the output buffer. */
  emitElementwise(expr: Expr, shape: readonly number[], dtype: StorageDType): number {
    const { local, leaves } = this.localize(expr);
    const kernelShape = shape.length === 0 ? [1] : [...shape];
    const refs = leaves.map((leaf) => this.ref(leaf.buffer, leaf.view.offset, leaf.dtype));
    const output = this.newBuffer(dtype, sizeOf(shape));
    if (sizeOf(shape) === 0) return output;

    const kernel = elementwiseKernel({
      shape: kernelShape,
      inputs: leaves.map((leaf) => ({ dtype: leaf.dtype, strides: leaf.view.strides.length === 0 ? [0] : [...leaf.view.strides] })),
      outputs: [local],
    });
    const outRef = this.ref(output, 0, dtype);
    this.steps.push({ kind: "kernel", label: "elementwise", kernel: kernel.kernel, args: [...refs, outRef] });
    return output;
  }

  /** Renumbers the leaves an expression uses from 0, rebuilding shared subexpressions once. */
  localize(expr: Expr): { local: Expr; leaves: Leaf[] } {
    const leaves: Leaf[] = [];
    const numbering = new Map<number, number>();
    const rebuilt = new Map<Expr, Expr>();
    const rebuild = (e: Expr): Expr => {
      const known = rebuilt.get(e);
      if (known !== undefined) return known;
      let out: Expr;
      switch (e.kind) {
        case "input": {
          if (!numbering.has(e.index)) {
            numbering.set(e.index, leaves.length);
            leaves.push(this.#leaves[e.index]);
          }
          out = inputExpr(numbering.get(e.index) as number);
          break;
        }
        case "const":
          out = e;
          break;
        case "unary":
          out = { ...e, x: rebuild(e.x) };
          break;
        case "binary":
          out = { ...e, a: rebuild(e.a), b: rebuild(e.b) };
          break;
        case "where":
          out = { ...e, cond: rebuild(e.cond), a: rebuild(e.a), b: rebuild(e.b) };
          break;
        case "cast":
          out = { ...e, x: rebuild(e.x) };
          break;
        default:
          return e satisfies never;
      }
      rebuilt.set(e, out);
      return out;
    };
    return { local: rebuild(expr), leaves };
  }
}

function visitExpr(expr: Expr, visit: (e: Expr) => void, seen = new Set<Expr>()): void {
  if (seen.has(expr)) return;
  seen.add(expr);
  visit(expr);
  switch (expr.kind) {
    case "unary":
    case "cast":
      visitExpr(expr.x, visit, seen);
      break;
    case "binary":
      visitExpr(expr.a, visit, seen);
      visitExpr(expr.b, visit, seen);
      break;
    case "where":
      visitExpr(expr.cond, visit, seen);
      visitExpr(expr.a, visit, seen);
      visitExpr(expr.b, visit, seen);
      break;
    default:
      break;
  }
}

export function isDense(view: StridedView, shape: readonly number[]): boolean {
  const dense = stridesOf(shape);
  return shape.every((d, i) => d === 1 || view.strides[i] === dense[i]);
}

