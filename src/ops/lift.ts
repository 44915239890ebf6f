// Lifting JavaScript scalars into tensors, dtype promotion and broadcasting of operands.

import { bind } from "../core/bind.js";
import { scalar } from "../core/creation.js";
import { promoteTypes, promoteWithScalar, type DType } from "../core/dtype.js";
import { broadcastShapes, formatShape, shapesEqual, type Shape } from "../core/shape.js";
import { Tensor } from "../core/tensor.js";
import { DTypeError, ShapeError } from "../runtime/errors.js";

/** A tensor or a JavaScript scalar, which is weakly typed: it takes the other operand's dtype. */
export type Operand = Tensor | number | boolean;

export function castTo(x: Tensor, dtype: DType): Tensor {
  return x.dtype === dtype ? x : bind("cast", [x], { dtype });
}

export function lift(x: Operand, dtype: DType): Tensor {
  if (x instanceof Tensor) return castTo(x, dtype);
  if (typeof x !== "number" && typeof x !== "boolean") {
    throw new DTypeError(`invalid operand ${JSON.stringify(x) ?? String(x)} of type ${typeof x}; ops take tensors, numbers or booleans`);
  }
  return scalar(x, dtype);
}

/** Returns the common dtype of the operands under the promotion rules, with scalars weakly typed. */
export function resultType(...operands: Operand[]): DType {
  const strong = operands.filter((o): o is Tensor => o instanceof Tensor && o.node.aval.weak !== true);
  const weak = operands.filter((o) => !strong.includes(o as Tensor));
  if (strong.length === 0) {
    const weakTensors = weak.filter((o): o is Tensor => o instanceof Tensor);
    if (weakTensors.length > 0) return weakTensors.map((t) => t.dtype).reduce(promoteTypes);
    return operands.some((o) => typeof o === "number") ? "float32" : "bool";
  }
  let dtype = strong.map((t) => t.dtype).reduce(promoteTypes);
  for (const o of weak) dtype = promoteWithScalar(dtype, o instanceof Tensor ? weakExample(o.dtype) : (o as number | boolean));
  return dtype;
}

/** Returns a JavaScript value that promotes like a weak tensor of `dtype`: fractional for floats, integral for ints. */
function weakExample(dtype: DType): number | boolean {
  if (dtype === "bool") return true;
  return dtype === "int32" ? 1 : 0.5;
}

/** Reshapes without copying data; the element count must match. */
export function reshapeTo(x: Tensor, shape: Shape): Tensor {
  return shapesEqual(x.shape, shape) ? x : bind("reshape", [x], { shape: [...shape] });
}

/** Broadcasts `x` to `shape` by NumPy rules: leading size-1 axes are added, then size-1 axes expand. */
export function broadcastTo(x: Tensor, shape: Shape, op = "broadcastTo"): Tensor {
  if (shapesEqual(x.shape, shape)) return x;
  if (x.ndim > shape.length) {
    throw new ShapeError(`${op}: cannot broadcast shape ${formatShape(x.shape)} to the lower-rank shape ${formatShape(shape)}`);
  }
  const padded = [...new Array<number>(shape.length - x.ndim).fill(1), ...x.shape];
  padded.forEach((d, i) => {
    if (d !== 1 && d !== shape[i]) {
      throw new ShapeError(`${op}: cannot broadcast shape ${formatShape(x.shape)} to ${formatShape(shape)}; dimension ${i} is ${d}, expected 1 or ${shape[i]}`);
    }
  });
  const reshaped = reshapeTo(x, padded);
  return shapesEqual(padded, shape) ? reshaped : bind("broadcastTo", [reshaped], { shape: [...shape] });
}

/** Casts every operand to `dtype` and broadcasts them to their common shape. */
export function alignOperands(op: string, operands: readonly Operand[], dtype: DType): Tensor[] {
  const tensors = operands.map((o) => lift(o, dtype));
  const shape = broadcastShapes(op, ...tensors.map((t) => t.shape));
  return tensors.map((t) => broadcastTo(t, shape, op));
}
