// Elementwise primitives: each row gives the reference function and the derivative it implements.

import { bind } from "../../core/bind.js";
import type { DType } from "../../core/dtype.js";
import type { Aval } from "../../core/node.js";
import type { PrimitiveName } from "../../core/primitive-names.js";
import type { PrimitiveDef } from "../../core/rules.js";
import type { Tensor } from "../../core/tensor.js";
import { DTypeError } from "../../runtime/errors.js";
import { castStorage, map1, map2, map3 } from "../../runtime/reference/elementwise.js";
import { erf as erfScalar, sigmoid as sigmoidScalar } from "../../runtime/reference/math.js";
import {
  add, cast, cos, div, equal, exp, greater, less, log, mul, neg, sign, sin, sub, where,
} from "../elementwise.js";
import { addTangents, sameAvals } from "./common.js";

/** d out / d x as a tensor, from the input and the output. */
type Derivative = (x: Tensor, out: Tensor) => Tensor;

/** Defines a unary primitive whose VJP and JVP both multiply by `derivative`; null means no gradient flows. */
function unary<K extends PrimitiveName>(f: (x: number) => number, derivative: Derivative | null, outDType?: DType): PrimitiveDef<K> {
  return {
    abstractEval: ([x]) => (outDType === undefined ? x : { shape: x.shape, dtype: outDType }),
    impl: ([x], _avals, _params, out) => map1(x, out.dtype, f),
    vjp: (ct, [x], out) => [derivative === null ? null : mul(ct, derivative(x, out))],
    jvp: ([t], [x], out) => (t === null || derivative === null ? null : mul(t, derivative(x, out))),
  };
}

/** Defines a unary primitive that is linear in its input: the same map applies to cotangents and tangents. */
function linearUnary<K extends PrimitiveName>(f: (x: number) => number, linear: (t: Tensor) => Tensor): PrimitiveDef<K> {
  return {
    abstractEval: ([x]) => x,
    impl: ([x], _avals, _params, out) => map1(x, out.dtype, f),
    vjp: (ct) => [linear(ct)],
    jvp: ([t]) => (t === null ? null : linear(t)),
  };
}

const unaryDefs = {
  neg: linearUnary<"neg">((x) => -x, neg), // d/dx -x = -1
  identity: { ...linearUnary<"identity">((x) => x, (t) => t), impl: ([x]) => x }, // buffers are immutable, so no copy
  exp: unary<"exp">(Math.exp, (_x, y) => y), // d/dx e^x = e^x
  log: unary<"log">(Math.log, (x) => div(1, x)), // d/dx log x = 1/x
  log1p: unary<"log1p">(Math.log1p, (x) => div(1, sub(x, -1))), // d/dx log(1+x) = 1/(1+x)
  sqrt: unary<"sqrt">(Math.sqrt, (_x, y) => div(0.5, y)), // d/dx sqrt x = 1/(2 sqrt x)
  rsqrt: unary<"rsqrt">((x) => 1 / Math.sqrt(x), (_x, y) => mul(-0.5, mul(y, mul(y, y)))), // d/dx x^-1/2 = -y^3/2
  abs: unary<"abs">(Math.abs, (x) => sign(x)), // d/dx |x| = sign x
  sign: unary<"sign">(Math.sign, null),
  sin: unary<"sin">(Math.sin, (x) => cos(x)),
  cos: unary<"cos">(Math.cos, (x) => neg(sin(x))),
  tanh: unary<"tanh">(Math.tanh, (_x, y) => sub(1, mul(y, y))), // d/dx tanh = 1 - y^2
  sigmoid: unary<"sigmoid">(sigmoidScalar, (_x, y) => mul(y, sub(1, y))), // d/dx s = s (1 - s)
  // 0 at x = 0, as PyTorch. Read from the output (y > 0 exactly when x > 0), so the input need not be kept.
  relu: unary<"relu">((x) => (x > 0 || Number.isNaN(x) ? x : 0), (_x, y) => cast(greater(y, 0), y.dtype)),
  erf: unary<"erf">(erfScalar, (x) => mul(2 / Math.sqrt(Math.PI), exp(neg(mul(x, x))))), // d/dx erf = 2/sqrt(pi) e^(-x^2)
  logicalNot: unary<"logicalNot">((x) => (x !== 0 ? 0 : 1), null, "bool"),
} satisfies { [K in "neg" | "identity" | "exp" | "log" | "log1p" | "sqrt" | "rsqrt" | "abs" | "sign" | "sin" | "cos" | "tanh" | "sigmoid" | "relu" | "erf" | "logicalNot"]: PrimitiveDef<K> };

const cast_: PrimitiveDef<"cast"> = {
  abstractEval: ([x], { dtype }) => ({ shape: x.shape, dtype }),
  impl: ([x], _avals, { dtype }) => castStorage(x, dtype),
  vjp: (ct, [x]) => [isFloat(x.dtype) && isFloat(ct.dtype) ? bind("cast", [ct], { dtype: x.dtype }) : null],
  jvp: ([t], _inputs, out) => (t !== null && isFloat(out.dtype) ? bind("cast", [t], { dtype: out.dtype }) : null),
};

const stopGradient: PrimitiveDef<"stopGradient"> = {
  abstractEval: ([x]) => x,
  impl: ([x]) => x,
  vjp: () => [null],
  jvp: () => null,
};

function isFloat(dtype: DType): boolean {
  return dtype === "float32" || dtype === "float64";
}

type BinaryVjp = (ct: Tensor, a: Tensor, b: Tensor, out: Tensor) => [Tensor | null, Tensor | null];
type BinaryJvp = (ta: Tensor | null, tb: Tensor | null, a: Tensor, b: Tensor, out: Tensor) => Tensor | null;

/** Defines a binary primitive on operands of equal shape and dtype; `intF` replaces `f` for int32 when they differ. */
function binary<K extends PrimitiveName>(f: (x: number, y: number) => number, vjp: BinaryVjp, jvp: BinaryJvp, intF = f): PrimitiveDef<K> {
  return {
    abstractEval: (inputs) => sameAvals("binary op", inputs, 2),
    impl: ([a, b], _avals, _params, out) => map2(a, b, out.dtype, out.dtype === "int32" ? intF : f),
    vjp: (ct, [a, b], out) => vjp(ct, a, b, out),
    jvp: ([ta, tb], [a, b], out) => jvp(ta, tb, a, b, out),
  };
}

/** max/min: the gradient goes to the larger (smaller) operand and is split evenly on ties, as in PyTorch. */
function extremum<K extends "maximum" | "minimum">(pick: (x: number, y: number) => number, wins: (a: Tensor, b: Tensor) => Tensor): PrimitiveDef<K> {
  const share = (a: Tensor, b: Tensor): Tensor => add(cast(wins(a, b), a.dtype), mul(0.5, cast(equal(a, b), a.dtype)));
  return binary<K>(
    pick,
    (ct, a, b) => [mul(ct, share(a, b)), mul(ct, share(b, a))],
    (ta, tb, a, b) => addTangents(ta && mul(ta, share(a, b)), tb && mul(tb, share(b, a))),
  );
}

const binaryDefs = {
  add: binary<"add">((x, y) => x + y, (ct) => [ct, ct], (ta, tb) => addTangents(ta, tb)),
  sub: binary<"sub">((x, y) => x - y, (ct) => [ct, neg(ct)], (ta, tb) => addTangents(ta, tb && neg(tb))),
  // d(ab) = b da + a db
  mul: binary<"mul">((x, y) => x * y, (ct, a, b) => [mul(ct, b), mul(ct, a)], (ta, tb, a, b) => addTangents(ta && mul(ta, b), tb && mul(a, tb)), Math.imul),
  // d(a/b) = da/b - (a/b) db/b
  div: binary<"div">((x, y) => x / y, (ct, _a, b, out) => [div(ct, b), neg(div(mul(ct, out), b))], (ta, tb, _a, b, out) => addTangents(ta && div(ta, b), tb && neg(div(mul(tb, out), b)))),
  // d(a^b) = b a^(b-1) da + a^b log(a) db, with the db term 0 where a = 0
  pow: binary<"pow">(Math.pow, (ct, a, b, out) => [mul(ct, powGradBase(a, b)), mul(ct, powGradExponent(a, out))], (ta, tb, a, b, out) => addTangents(ta && mul(ta, powGradBase(a, b)), tb && mul(tb, powGradExponent(a, out)))),
  maximum: extremum<"maximum">((x, y) => (Number.isNaN(x) || Number.isNaN(y) ? NaN : Math.max(x, y)), greater),
  minimum: extremum<"minimum">((x, y) => (Number.isNaN(x) || Number.isNaN(y) ? NaN : Math.min(x, y)), less),
} satisfies { [K in "add" | "sub" | "mul" | "div" | "pow" | "maximum" | "minimum"]: PrimitiveDef<K> };

function powGradBase(a: Tensor, b: Tensor): Tensor {
  return mul(b, bind("pow", [a, sub(b, 1)], {}));
}

function powGradExponent(a: Tensor, out: Tensor): Tensor {
  return where(equal(a, 0), 0, mul(out, log(a)));
}

/** Defines a predicate of two operands of equal shape and dtype; the result is bool and carries no gradient. */
function predicate<K extends PrimitiveName>(f: (x: number, y: number) => boolean): PrimitiveDef<K> {
  return {
    abstractEval: (inputs) => ({ shape: sameAvals("comparison", inputs, 2).shape, dtype: "bool" }),
    impl: ([a, b]) => map2(a, b, "bool", (x, y) => (f(x, y) ? 1 : 0)),
    vjp: () => [null, null],
    jvp: () => null,
  };
}

const predicateDefs = {
  equal: predicate<"equal">((x, y) => x === y),
  notEqual: predicate<"notEqual">((x, y) => x !== y),
  less: predicate<"less">((x, y) => x < y),
  lessEqual: predicate<"lessEqual">((x, y) => x <= y),
  greater: predicate<"greater">((x, y) => x > y),
  greaterEqual: predicate<"greaterEqual">((x, y) => x >= y),
  logicalAnd: predicate<"logicalAnd">((x, y) => x !== 0 && y !== 0),
  logicalOr: predicate<"logicalOr">((x, y) => x !== 0 || y !== 0),
} satisfies { [K in "equal" | "notEqual" | "less" | "lessEqual" | "greater" | "greaterEqual" | "logicalAnd" | "logicalOr"]: PrimitiveDef<K> };

const whereDef: PrimitiveDef<"where"> = {
  abstractEval: ([c, a, b]: readonly Aval[]) => {
    if (c.dtype !== "bool") throw new DTypeError(`where: the condition must be bool, got ${c.dtype}`);
    return sameAvals("where", [a, b], 2);
  },
  impl: ([c, a, b], _avals, _params, out) => map3(c, a, b, out.dtype, (m, x, y) => (m !== 0 ? x : y)),
  // d where(c, a, b) = where(c, da, 0) + where(c, 0, db)
  vjp: (ct, [c]) => [null, where(c, ct, 0), where(c, 0, ct)],
  jvp: ([, ta, tb], [c]) => (ta === null && tb === null ? null : where(c, ta ?? 0, tb ?? 0)),
};

export const elementwiseDefs = {
  ...unaryDefs,
  ...binaryDefs,
  ...predicateDefs,
  cast: cast_,
  stopGradient,
  where: whereDef,
};
