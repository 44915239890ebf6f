// Expression IR of a fused elementwise kernel: a DAG over strided inputs, typed with storage dtypes.

import { DTypeError, InternalError } from "../../errors.js";
import type { StorageDType } from "../../storage.js";

export type UnaryOp =
  | "neg" | "abs" | "sign" | "exp" | "log" | "log1p" | "sqrt" | "rsqrt" | "sin" | "cos" | "tanh" | "sigmoid"
  | "relu" | "erf" | "logicalNot";
export type ArithmeticOp = "add" | "sub" | "mul" | "div" | "pow" | "max" | "min";
export type CompareOp = "equal" | "notEqual" | "less" | "lessEqual" | "greater" | "greaterEqual";
export type LogicalOp = "logicalAnd" | "logicalOr";
export type BinaryOp = ArithmeticOp | CompareOp | LogicalOp;

/** One node of the DAG; sharing a node object between consumers computes it once. */
export type Expr =
  | { readonly kind: "input"; readonly index: number }
  | { readonly kind: "const"; readonly value: number; readonly dtype: StorageDType }
  | { readonly kind: "unary"; readonly op: UnaryOp; readonly x: Expr }
  | { readonly kind: "binary"; readonly op: BinaryOp; readonly a: Expr; readonly b: Expr }
  | { readonly kind: "where"; readonly cond: Expr; readonly a: Expr; readonly b: Expr }
  | { readonly kind: "cast"; readonly dtype: StorageDType; readonly x: Expr };

/** An input buffer: its dtype and its stride in elements along each axis of the kernel shape (0 broadcasts). */
export interface InputSpec {
  readonly dtype: StorageDType;
  readonly strides: readonly number[];
}

/** A fused elementwise kernel: every output is dense, row-major, of `shape`. */
export interface ElementwiseSpec {
  readonly shape: readonly number[];
  readonly inputs: readonly InputSpec[];
  readonly outputs: readonly Expr[];
}

export const input = (index: number): Expr => ({ kind: "input", index });
export const constant = (value: number, dtype: StorageDType = "float32"): Expr => ({ kind: "const", value, dtype });
export const unary = (op: UnaryOp, x: Expr): Expr => ({ kind: "unary", op, x });
export const binary = (op: BinaryOp, a: Expr, b: Expr): Expr => ({ kind: "binary", op, a, b });
export const where = (cond: Expr, a: Expr, b: Expr): Expr => ({ kind: "where", cond, a, b });
export const cast = (x: Expr, dtype: StorageDType): Expr => ({ kind: "cast", dtype, x });

/** gelu(x) = x/2 (1 + erf(x / sqrt 2)), the exact form. */
export function gelu(x: Expr, dtype: StorageDType = "float32"): Expr {
  const half = binary("mul", constant(0.5, dtype), x);
  return binary("mul", half, binary("add", constant(1, dtype), unary("erf", binary("mul", x, constant(Math.SQRT1_2, dtype)))));
}

/** gelu with the tanh approximation: x/2 (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))). */
export function geluTanh(x: Expr, dtype: StorageDType = "float32"): Expr {
  const cube = binary("mul", binary("mul", x, x), x);
  const inner = binary("mul", constant(Math.sqrt(2 / Math.PI), dtype), binary("add", x, binary("mul", constant(0.044715, dtype), cube)));
  return binary("mul", binary("mul", constant(0.5, dtype), x), binary("add", constant(1, dtype), unary("tanh", inner)));
}

const floatOnlyUnary = new Set<UnaryOp>(["exp", "log", "log1p", "sqrt", "rsqrt", "sin", "cos", "tanh", "sigmoid", "erf"]);
const compareOps = new Set<BinaryOp>(["equal", "notEqual", "less", "lessEqual", "greater", "greaterEqual"]);

export function isCompare(op: BinaryOp): op is CompareOp {
  return compareOps.has(op);
}

export function isFloat(dtype: StorageDType): boolean {
  return dtype === "float32" || dtype === "float64";
}

/** Infers the dtype of `expr`, raising DTypeError for combinations the kernels do not define. */
export function dtypeOf(expr: Expr, inputs: readonly InputSpec[], memo = new Map<Expr, StorageDType>()): StorageDType {
  const known = memo.get(expr);
  if (known !== undefined) return known;
  const dtype = inferDType(expr, inputs, memo);
  memo.set(expr, dtype);
  return dtype;
}

function inferDType(expr: Expr, inputs: readonly InputSpec[], memo: Map<Expr, StorageDType>): StorageDType {
  switch (expr.kind) {
    case "input": {
      const spec = inputs[expr.index];
      if (spec === undefined) throw new InternalError(`elementwise: input ${expr.index} is not declared (${inputs.length} inputs)`);
      return spec.dtype;
    }
    case "const":
      return expr.dtype;
    case "cast":
      dtypeOf(expr.x, inputs, memo);
      return expr.dtype;
    case "unary":
      return unaryDType(expr.op, dtypeOf(expr.x, inputs, memo));
    case "binary":
      return binaryDType(expr.op, dtypeOf(expr.a, inputs, memo), dtypeOf(expr.b, inputs, memo));
    case "where": {
      const cond = dtypeOf(expr.cond, inputs, memo);
      if (cond !== "bool") throw new DTypeError(`elementwise where: the condition must be bool, got ${cond}; compare or cast it first`);
      return binaryDType("max", dtypeOf(expr.a, inputs, memo), dtypeOf(expr.b, inputs, memo), "where");
    }
    default:
      return expr satisfies never;
  }
}

function unaryDType(op: UnaryOp, x: StorageDType): StorageDType {
  if (op === "logicalNot") return "bool";
  if (x === "bool") throw new DTypeError(`elementwise ${op}: bool operands are not supported; cast to a number type first`);
  if (floatOnlyUnary.has(op) && !isFloat(x)) throw new DTypeError(`elementwise ${op}: needs float32 or float64, got ${x}; cast first`);
  return x;
}

function binaryDType(op: BinaryOp, a: StorageDType, b: StorageDType, name: string = op): StorageDType {
  if (a !== b) throw new DTypeError(`elementwise ${name}: operand dtypes differ (${a} and ${b}); cast one of them first`);
  if (op === "logicalAnd" || op === "logicalOr" || isCompare(op)) return "bool";
  if (a === "bool" && name !== "where") throw new DTypeError(`elementwise ${op}: bool operands are not supported; cast to a number type first`);
  return a;
}

/** Prints the DAG in topological order, one `tN = ...` per node, so equal DAGs print equally. */
export function printExprs(outputs: readonly Expr[]): string {
  const ids = new Map<Expr, number>();
  const lines: string[] = [];
  const visit = (e: Expr): string => {
    const known = ids.get(e);
    if (known !== undefined) return `t${known}`;
    const text = describe(e, visit);
    ids.set(e, lines.length);
    lines.push(text);
    return `t${lines.length - 1}`;
  };
  const roots = outputs.map(visit);
  return `${lines.map((l, i) => `t${i}=${l}`).join(";")};out=${roots.join(",")}`;
}

function describe(e: Expr, visit: (e: Expr) => string): string {
  switch (e.kind) {
    case "input":
      return `in${e.index}`;
    case "const":
      return `${e.dtype}(${Object.is(e.value, -0) ? "-0" : e.value})`;
    case "unary":
      return `${e.op}(${visit(e.x)})`;
    case "binary":
      return `${e.op}(${visit(e.a)},${visit(e.b)})`;
    case "where":
      return `where(${visit(e.cond)},${visit(e.a)},${visit(e.b)})`;
    case "cast":
      return `cast<${e.dtype}>(${visit(e.x)})`;
    default:
      return e satisfies never;
  }
}
