// Random primitives: counter-based draws from an int32 key of shape [2], differentiable by nothing.

import type { DType } from "../../core/dtype.js";
import type { Aval } from "../../core/node.js";
import { checkShape, formatShape, sizeOf } from "../../core/shape.js";
import type { PrimitiveDef } from "../../core/rules.js";
import type { PrimitiveName } from "../../core/primitive-names.js";
import { ValueError } from "../../runtime/errors.js";
import { allocate, type Storage } from "../../runtime/storage.js";
import { bitsToUnit, normalSamples, randomWords } from "../../runtime/reference/random.js";

function checkKey(prim: string, key: Aval): void {
  if (key.dtype !== "int32" || key.shape.length !== 1 || key.shape[0] !== 2) {
    throw new ValueError(`${prim}: the key must be an int32 tensor of shape [2] from nb.random.key, got ${key.dtype} ${formatShape(key.shape)}`);
  }
}

function randomDef<K extends PrimitiveName & ("randomBits" | "randomUniform" | "randomNormal")>(
  outDType: (params: { shape: readonly number[]; dtype?: DType }) => DType,
  draw: (k0: number, k1: number, count: number, dtype: DType) => Storage,
): PrimitiveDef<K> {
  return {
    abstractEval: ([key], params) => {
      checkKey("random", key);
      checkShape("random", params.shape);
      return { shape: params.shape, dtype: outDType(params) };
    },
    impl: ([key], _avals, params, out) => draw(key[0], key[1], sizeOf(params.shape), out.dtype),
    vjp: () => [null],
    jvp: () => null,
  };
}

function bits(k0: number, k1: number, count: number): Storage {
  return new Int32Array(randomWords(k0, k1, count).buffer);
}

function uniform(k0: number, k1: number, count: number, dtype: DType): Storage {
  const words = randomWords(k0, k1, count);
  const out = allocate(dtype, count);
  for (let j = 0; j < count; j++) out[j] = bitsToUnit(words[j]);
  return out;
}

function normal(k0: number, k1: number, count: number, dtype: DType): Storage {
  const out = allocate(dtype, count);
  out.set(normalSamples(k0, k1, count));
  return out;
}

export const randomDefs = {
  randomBits: randomDef<"randomBits">(() => "int32", bits),
  randomUniform: randomDef<"randomUniform">((p) => p.dtype ?? "float32", uniform),
  randomNormal: randomDef<"randomNormal">((p) => p.dtype ?? "float32", normal),
};
