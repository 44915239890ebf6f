// Vector code for one IR node over four lanes. float32 and int32 values take one v128, bool values
// an i32x4 mask (all ones = true), float64 values two f64x2 halves (lanes 0-1, lanes 2-3).

import { InternalError } from "../../errors.js";
import type { StorageDType } from "../../storage.js";
import type { CodeBuilder, Local } from "../emitter/code.js";
import type { SimdOp } from "../emitter/opcodes.js";
import type { MathImport } from "../kernel.js";
import { emitErf, emitExp, emitLog, emitLog1p, emitSigmoid, emitTanh } from "../math/f32x4.js";
import { f32x4Const, f64x2Const, i32x4Const, keep } from "../math/vector.js";
import type { BinaryOp, UnaryOp } from "./ir.js";

export interface Value {
  readonly dtype: StorageDType;
  readonly parts: readonly Local[];
}

export interface LaneContext {
  readonly c: CodeBuilder;
  readonly relaxed: boolean;
  /** Function index of each scalar helper the module imports. */
  readonly imports: ReadonlyMap<MathImport, number>;
}

/** Byte lanes that put the low 8 bytes of the first operand before the low 8 bytes of the second. */
const joinLowHalves = [0, 1, 2, 3, 4, 5, 6, 7, 16, 17, 18, 19, 20, 21, 22, 23];
/** Byte lanes that move the high 8 bytes of the first operand down. */
const highHalfDown = [8, 9, 10, 11, 12, 13, 14, 15, 8, 9, 10, 11, 12, 13, 14, 15];
/** Byte lanes that take the low int32 of each int64 lane of both operands. */
const joinI64Masks = [0, 1, 2, 3, 8, 9, 10, 11, 16, 17, 18, 19, 24, 25, 26, 27];

const vectorF32: Partial<Record<UnaryOp, typeof emitExp>> = {
  exp: emitExp, log: emitLog, log1p: emitLog1p, tanh: emitTanh, sigmoid: emitSigmoid, erf: emitErf,
};

const scalarHelper: Partial<Record<UnaryOp | BinaryOp, MathImport>> = {
  exp: "exp", log: "log", log1p: "log1p", sin: "sin", cos: "cos", tanh: "tanh", sigmoid: "sigmoid", erf: "erf", pow: "pow",
};

/** Scalar helpers `op` needs for operands of `dtype`. */
export function helperFor(op: UnaryOp | BinaryOp, dtype: StorageDType): MathImport | undefined {
  const helper = scalarHelper[op];
  if (helper === undefined) return undefined;
  if (dtype === "float32" && vectorF32[op as UnaryOp] !== undefined) return undefined;
  return helper;
}

export function emitConstant(ctx: LaneContext, value: number, dtype: StorageDType): Value {
  const { c } = ctx;
  switch (dtype) {
    case "float32":
      return one(ctx, dtype, () => f32x4Const(c, value));
    case "int32":
      return one(ctx, dtype, () => i32x4Const(c, value | 0));
    case "bool":
      return one(ctx, dtype, () => i32x4Const(c, value !== 0 ? -1 : 0));
    case "float64": {
      f64x2Const(c, value);
      const part = keep(c, "c");
      return { dtype, parts: [part, part] };
    }
    default:
      return dtype satisfies never;
  }
}

function one(ctx: LaneContext, dtype: StorageDType, push: () => void): Value {
  push();
  return { dtype, parts: [keep(ctx.c, dtype)] };
}

/** Applies `op` (a SIMD op taking the operands' parts) part by part. */
function perPart(ctx: LaneContext, dtype: StorageDType, op: SimdOp, ...operands: Value[]): Value {
  const parts = operands[0].parts.map((_, k) => {
    for (const operand of operands) ctx.c.get(operand.parts[k]);
    ctx.c.simd(op);
    return keep(ctx.c, dtype);
  });
  return { dtype, parts };
}

const prefix = { float32: "f32x4", float64: "f64x2", int32: "i32x4", bool: "i32x4" } as const;

export function emitUnary(ctx: LaneContext, op: UnaryOp, x: Value): Value {
  const { c } = ctx;
  const p = prefix[x.dtype];
  const float = x.dtype !== "int32";
  switch (op) {
    case "neg":
    case "abs":
      return perPart(ctx, x.dtype, `${p}.${op}` as SimdOp, x);
    case "sqrt":
      return perPart(ctx, x.dtype, `${p as "f32x4"}.sqrt`, x);
    case "rsqrt":
      return emitBinary(ctx, "div", emitConstant(ctx, 1, x.dtype), perPart(ctx, x.dtype, `${p as "f32x4"}.sqrt`, x));
    case "relu":
      if (!float) return emitBinary(ctx, "max", x, emitConstant(ctx, 0, x.dtype));
      // x <= 0 selects 0, so NaN passes through as in the reference.
      return emitWhere(ctx, emitBinary(ctx, "lessEqual", x, emitConstant(ctx, 0, x.dtype)), emitConstant(ctx, 0, x.dtype), x);
    case "sign":
      return emitSign(ctx, x);
    case "logicalNot":
      return emitBinary(ctx, "equal", x, emitConstant(ctx, 0, x.dtype));
    default: {
      const vector = vectorF32[op];
      if (x.dtype === "float32" && vector !== undefined) return { dtype: x.dtype, parts: [vector(c, x.parts[0], ctx.relaxed)] };
      return emitViaHelper(ctx, op, [x]);
    }
  }
}

/** sign keeps +-0 and NaN, so it selects 1 and -1 only where x > 0 and x < 0. */
function emitSign(ctx: LaneContext, x: Value): Value {
  if (x.dtype === "int32") {
    const { c } = ctx;
    c.get(x.parts[0]);
    i32x4Const(c, 0).simd("i32x4.lt_s").get(x.parts[0]);
    i32x4Const(c, 0).simd("i32x4.gt_s").simd("i32x4.sub");
    return { dtype: x.dtype, parts: [keep(c, "sign")] };
  }
  const zero = emitConstant(ctx, 0, x.dtype);
  const positive = emitWhere(ctx, emitBinary(ctx, "greater", x, zero), emitConstant(ctx, 1, x.dtype), x);
  return emitWhere(ctx, emitBinary(ctx, "less", x, zero), emitConstant(ctx, -1, x.dtype), positive);
}

const compareSuffix = { equal: "eq", notEqual: "ne", less: "lt", lessEqual: "le", greater: "gt", greaterEqual: "ge" } as const;

export function emitBinary(ctx: LaneContext, op: BinaryOp, a: Value, b: Value): Value {
  const p = prefix[a.dtype];
  switch (op) {
    case "add":
    case "sub":
    case "mul":
      if (a.dtype === "int32") return perPart(ctx, a.dtype, `i32x4.${op}`, a, b);
      return perPart(ctx, a.dtype, `${p as "f32x4"}.${op}`, a, b);
    case "max":
    case "min":
      if (a.dtype === "int32") return perPart(ctx, a.dtype, `i32x4.${op}_s`, a, b);
      return perPart(ctx, a.dtype, `${p as "f32x4"}.${op}`, a, b);
    case "div":
      if (a.dtype === "int32") return viaFloat64(ctx, (x, y) => perPart(ctx, "float64", "f64x2.div", x, y), a, b);
      return perPart(ctx, a.dtype, `${p as "f32x4"}.div`, a, b);
    case "pow":
      if (a.dtype === "int32") return viaFloat64(ctx, (x, y) => emitViaHelper(ctx, "pow", [x, y]), a, b);
      return emitViaHelper(ctx, "pow", [a, b]);
    case "logicalAnd":
    case "logicalOr":
      return perPart(ctx, "bool", op === "logicalAnd" ? "v128.and" : "v128.or", truth(ctx, a), truth(ctx, b));
    default:
      return emitCompare(ctx, op, a, b);
  }
}

/** Integer division and power follow the reference: compute in float64, then store as int32. */
function viaFloat64(ctx: LaneContext, f: (a: Value, b: Value) => Value, a: Value, b: Value): Value {
  return emitCast(ctx, f(emitCast(ctx, a, "float64"), emitCast(ctx, b, "float64")), "int32");
}

function emitCompare(ctx: LaneContext, op: keyof typeof compareSuffix, a: Value, b: Value): Value {
  const { c } = ctx;
  const suffix = compareSuffix[op];
  if (a.dtype === "float32") return perPart(ctx, "bool", `f32x4.${suffix}`, a, b);
  if (a.dtype === "float64") {
    const halves = perPart(ctx, "bool", `f64x2.${suffix}`, a, b);
    c.get(halves.parts[0]).get(halves.parts[1]).shuffle(joinI64Masks);
    return { dtype: "bool", parts: [keep(c, "mask")] };
  }
  // bool masks are -1 for true, so compare 0/1 values to keep the order false < true.
  const [x, y] = a.dtype === "bool" ? [boolToInt(ctx, a), boolToInt(ctx, b)] : [a, b];
  const signed = suffix === "eq" || suffix === "ne" ? suffix : (`${suffix}_s` as const);
  return perPart(ctx, "bool", `i32x4.${signed}`, x, y);
}

function boolToInt(ctx: LaneContext, mask: Value): Value {
  return perPart(ctx, "int32", "i32x4.neg", mask);
}

/** Computes the mask of the lanes of `x` that are nonzero (NaN counts as nonzero). */
function truth(ctx: LaneContext, x: Value): Value {
  if (x.dtype === "bool") return x;
  return emitBinary(ctx, "notEqual", x, emitConstant(ctx, 0, x.dtype));
}

export function emitWhere(ctx: LaneContext, cond: Value, a: Value, b: Value): Value {
  const { c } = ctx;
  const masks = a.dtype === "float64" ? splitMask(ctx, cond.parts[0]) : cond.parts;
  const parts = a.parts.map((part, k) => {
    c.get(part).get(b.parts[k]).get(masks[k]).simd("v128.bitselect");
    return keep(c, "sel");
  });
  return { dtype: a.dtype, parts };
}

/** Widens an i32x4 mask into two i64x2 masks for the float64 halves. */
function splitMask(ctx: LaneContext, mask: Local): Local[] {
  const { c } = ctx;
  c.get(mask).simd("i64x2.extend_low_i32x4_s");
  const low = keep(c, "maskLow");
  c.get(mask).simd("i64x2.extend_high_i32x4_s");
  return [low, keep(c, "maskHigh")];
}

export function emitCast(ctx: LaneContext, x: Value, dtype: StorageDType): Value {
  if (x.dtype === dtype) return x;
  if (dtype === "bool") return truth(ctx, x);
  if (x.dtype === "bool") return emitCast(ctx, boolToInt(ctx, x), dtype);
  const { c } = ctx;
  const from = x.dtype;
  if (dtype === "float64") {
    const convert: SimdOp = from === "float32" ? "f64x2.promote_low_f32x4" : "f64x2.convert_low_i32x4_s";
    c.get(x.parts[0]).simd(convert);
    const low = keep(c, "low");
    c.get(x.parts[0]).get(x.parts[0]).shuffle(highHalfDown).simd(convert);
    return { dtype, parts: [low, keep(c, "high")] };
  }
  if (from === "float64") {
    const convert: SimdOp = dtype === "float32" ? "f32x4.demote_f64x2_zero" : "i32x4.trunc_sat_f64x2_s_zero";
    c.get(x.parts[0]).simd(convert).get(x.parts[1]).simd(convert).shuffle(joinLowHalves);
    const joined = { dtype, parts: [keep(c, "joined")] };
    return dtype === "int32" ? zeroNonFinite(ctx, joined, x) : joined;
  }
  if (dtype === "float32") return one(ctx, dtype, () => c.get(x.parts[0]).simd("f32x4.convert_i32x4_s"));
  if (dtype === "int32") return zeroNonFinite(ctx, one(ctx, dtype, () => c.get(x.parts[0]).simd("i32x4.trunc_sat_f32x4_s")), x);
  throw new InternalError(`elementwise cast from ${from} to ${dtype} has no lowering`);
}

/**
 * Zeroes the lanes whose source is NaN or +-Infinity, which the reference stores as 0 when casting to
 * int32; finite values outside the int32 range saturate in both.
 */
function zeroNonFinite(ctx: LaneContext, converted: Value, source: Value): Value {
  const finite = emitCompare(ctx, "less", emitUnary(ctx, "abs", source), emitConstant(ctx, Infinity, source.dtype));
  return perPart(ctx, "int32", "v128.and", converted, finite);
}

/** Calls a scalar float64 helper lane by lane: the slow path for ops without a vector form. */
function emitViaHelper(ctx: LaneContext, op: UnaryOp | BinaryOp, operands: Value[]): Value {
  const { c } = ctx;
  const helper = scalarHelper[op];
  const index = helper === undefined ? undefined : ctx.imports.get(helper);
  if (helper === undefined || index === undefined) throw new InternalError(`elementwise ${op}: helper not imported`);
  const dtype = operands[0].dtype;
  const f32 = dtype === "float32";
  const lanesPerPart = f32 ? 4 : 2;
  const parts = operands[0].parts.map((_, k) => {
    const out = c.local("v128", "lanes");
    c.get(operands[0].parts[k]).set(out);
    for (let lane = 0; lane < lanesPerPart; lane++) {
      c.get(out);
      for (const operand of operands) {
        c.get(operand.parts[k]).lane(f32 ? "f32x4.extract_lane" : "f64x2.extract_lane", lane);
        if (f32) c.op("f64.promote_f32");
      }
      c.call(index, helper);
      if (f32) c.op("f32.demote_f64");
      c.lane(f32 ? "f32x4.replace_lane" : "f64x2.replace_lane", lane).set(out);
    }
    return out;
  });
  return { dtype, parts };
}
