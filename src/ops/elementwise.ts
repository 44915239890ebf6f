// Public elementwise ops: NumPy broadcasting, dtype promotion, and scalar operands.

import { bind } from "../core/bind.js";
import { floatTypeFor, isFloating, type DType } from "../core/dtype.js";
import { broadcastShapes } from "../core/shape.js";
import { Tensor } from "../core/tensor.js";
import { DTypeError } from "../runtime/errors.js";
import { alignOperands, broadcastTo, castTo, lift, resultType, type Operand } from "./lift.js";

type UnaryPrim = "neg" | "exp" | "log" | "log1p" | "sqrt" | "rsqrt" | "abs" | "sign" | "sin" | "cos" | "tanh" | "sigmoid" | "relu" | "erf";

function toTensor(x: Operand): Tensor {
  return x instanceof Tensor ? x : lift(x, resultType(x));
}

/** Applies a float-only unary primitive; integer and bool inputs compute in float32. */
function floatUnary(prim: UnaryPrim, x: Operand): Tensor {
  const t = toTensor(x);
  return bind(prim, [castTo(t, floatTypeFor(t.dtype))], {});
}

/** Applies a numeric unary primitive; bool inputs compute in int32. */
function numericUnary(prim: UnaryPrim, x: Operand): Tensor {
  const t = toTensor(x);
  return bind(prim, [t.dtype === "bool" ? castTo(t, "int32") : t], {});
}

export const neg = (x: Operand): Tensor => numericUnary("neg", x);
export const abs = (x: Operand): Tensor => numericUnary("abs", x);
export const sign = (x: Operand): Tensor => numericUnary("sign", x);
export const relu = (x: Operand): Tensor => numericUnary("relu", x);
export const exp = (x: Operand): Tensor => floatUnary("exp", x);
export const log = (x: Operand): Tensor => floatUnary("log", x);
export const log1p = (x: Operand): Tensor => floatUnary("log1p", x);
export const sqrt = (x: Operand): Tensor => floatUnary("sqrt", x);
export const rsqrt = (x: Operand): Tensor => floatUnary("rsqrt", x);
export const sin = (x: Operand): Tensor => floatUnary("sin", x);
export const cos = (x: Operand): Tensor => floatUnary("cos", x);
export const tanh = (x: Operand): Tensor => floatUnary("tanh", x);
export const sigmoid = (x: Operand): Tensor => floatUnary("sigmoid", x);
export const erf = (x: Operand): Tensor => floatUnary("erf", x);

type ArithmeticPrim = "add" | "sub" | "mul" | "div" | "pow" | "maximum" | "minimum";

/** Broadcasts and promotes two operands, then applies `prim`; `float` forces a floating result. */
function arithmetic(prim: ArithmeticPrim, a: Operand, b: Operand, float = false): Tensor {
  let dtype: DType = resultType(a, b);
  if (dtype === "bool") dtype = "int32";
  if (float) dtype = floatTypeFor(dtype);
  const [x, y] = alignOperands(prim, [a, b], dtype);
  return bind(prim, [x, y], {});
}

export const add = (a: Operand, b: Operand): Tensor => arithmetic("add", a, b);
export const sub = (a: Operand, b: Operand): Tensor => arithmetic("sub", a, b);
export const mul = (a: Operand, b: Operand): Tensor => arithmetic("mul", a, b);
/** True division: integer operands give float32, as in PyTorch. */
export const div = (a: Operand, b: Operand): Tensor => arithmetic("div", a, b, true);
export const pow = (a: Operand, b: Operand): Tensor => arithmetic("pow", a, b);
export const maximum = (a: Operand, b: Operand): Tensor => arithmetic("maximum", a, b);
export const minimum = (a: Operand, b: Operand): Tensor => arithmetic("minimum", a, b);

type ComparePrim = "equal" | "notEqual" | "less" | "lessEqual" | "greater" | "greaterEqual";

function compare(prim: ComparePrim, a: Operand, b: Operand): Tensor {
  const [x, y] = alignOperands(prim, [a, b], resultType(a, b));
  return bind(prim, [x, y], {});
}

export const equal = (a: Operand, b: Operand): Tensor => compare("equal", a, b);
export const notEqual = (a: Operand, b: Operand): Tensor => compare("notEqual", a, b);
export const less = (a: Operand, b: Operand): Tensor => compare("less", a, b);
export const lessEqual = (a: Operand, b: Operand): Tensor => compare("lessEqual", a, b);
export const greater = (a: Operand, b: Operand): Tensor => compare("greater", a, b);
export const greaterEqual = (a: Operand, b: Operand): Tensor => compare("greaterEqual", a, b);

function logical(prim: "logicalAnd" | "logicalOr", a: Operand, b: Operand): Tensor {
  const [x, y] = alignOperands(prim, [a, b], "bool");
  return bind(prim, [x, y], {});
}

export const logicalAnd = (a: Operand, b: Operand): Tensor => logical("logicalAnd", a, b);
export const logicalOr = (a: Operand, b: Operand): Tensor => logical("logicalOr", a, b);
export const logicalNot = (x: Operand): Tensor => bind("logicalNot", [lift(x, "bool")], {});

/** Elementwise choice: `condition ? a : b`, all three broadcast together; the condition is cast to bool. */
export function where(condition: Operand, a: Operand, b: Operand): Tensor {
  const c = lift(condition, "bool");
  const dtype = resultType(a, b);
  const x = lift(a, dtype);
  const y = lift(b, dtype);
  const shape = broadcastShapes("where", c.shape, x.shape, y.shape);
  return bind("where", [broadcastTo(c, shape, "where"), broadcastTo(x, shape, "where"), broadcastTo(y, shape, "where")], {});
}

/** Converts to `dtype`: floats to integers truncate toward zero, nonzero values become true. */
export function cast(x: Tensor, dtype: DType): Tensor {
  return castTo(x, dtype);
}

/** Limits values to [min, max]; the gradient is 1 inside the closed interval and 0 outside, as in PyTorch. */
export function clip(x: Tensor, min?: Operand | null, max?: Operand | null): Tensor {
  let out = x;
  if (min !== undefined && min !== null) out = where(less(out, min), min, out);
  if (max !== undefined && max !== null) out = where(greater(out, max), max, out);
  return out;
}

/** Cuts gradient flow: the value passes, its gradient is zero (JAX's `stop_gradient`). */
export function stopGradient(x: Tensor): Tensor {
  return bind("stopGradient", [x], {});
}

export function square(x: Operand): Tensor {
  const t = toTensor(x);
  return mul(t, t);
}

export function checkFloating(op: string, x: Tensor): void {
  if (!isFloating(x.dtype)) {
    throw new DTypeError(`${op}: expected a floating-point tensor, got ${x.dtype}; cast it with nb.cast(x, "float32")`);
  }
}
