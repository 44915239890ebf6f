// Evaluation of an expression DAG over four lanes, shared by the kernels that fuse elementwise work:
// the elementwise kernel and the reduce kernel's prologue.

import type { ModuleBuilder } from "../emitter/module.js";
import type { MathImport } from "../kernel.js";
import { dtypeOf, type Expr, type InputSpec } from "./ir.js";
import { emitBinary, emitCast, emitConstant, emitUnary, emitWhere, helperFor, type LaneContext, type Value } from "./lanes.js";

/** Imports the scalar helpers that nodes without a vector form need, before any function is added. */
export function declareHelpers(module: ModuleBuilder, inputs: readonly InputSpec[], outputs: readonly Expr[]): Map<MathImport, number> {
  const imports = new Map<MathImport, number>();
  const seen = new Set<Expr>();
  const visit = (e: Expr): void => {
    if (seen.has(e)) return;
    seen.add(e);
    if (e.kind === "unary" || e.kind === "binary") {
      const operand = e.kind === "unary" ? e.x : e.a;
      const dtype = dtypeOf(operand, inputs);
      const helper = helperFor(e.op, dtype === "int32" ? "float64" : dtype);
      if (helper !== undefined) {
        const arity = helper === "pow" ? 2 : 1;
        imports.set(helper, module.importFunction({ module: "math", name: helper, params: new Array(arity).fill("f64"), results: ["f64"] }));
      }
    }
    if (e.kind === "unary" || e.kind === "cast") visit(e.x);
    if (e.kind === "binary") (visit(e.a), visit(e.b));
    if (e.kind === "where") (visit(e.cond), visit(e.a), visit(e.b));
  };
  outputs.forEach(visit);
  return imports;
}

export function emitExpr(ctx: LaneContext, e: Expr, memo: Map<Expr, Value>, load: (k: number) => Value): Value {
  const known = memo.get(e);
  if (known !== undefined) return known;
  const value = emitNode(ctx, e, memo, load);
  memo.set(e, value);
  return value;
}

function emitNode(ctx: LaneContext, e: Expr, memo: Map<Expr, Value>, load: (k: number) => Value): Value {
  const recurse = (x: Expr): Value => emitExpr(ctx, x, memo, load);
  switch (e.kind) {
    case "input":
      return load(e.index);
    case "const":
      return emitConstant(ctx, e.value, e.dtype);
    case "unary":
      return emitUnary(ctx, e.op, recurse(e.x));
    case "binary":
      return emitBinary(ctx, e.op, recurse(e.a), recurse(e.b));
    case "where":
      return emitWhere(ctx, recurse(e.cond), recurse(e.a), recurse(e.b));
    case "cast":
      return emitCast(ctx, recurse(e.x), e.dtype);
    default:
      return e satisfies never;
  }
}
