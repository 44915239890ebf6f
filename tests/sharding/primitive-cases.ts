// One random case per primitive: input avals and data domains, and the function that applies it.

import { bind } from "../../src/core/bind.js";
import type { ParamsOf, PrimitiveName } from "../../src/core/primitive-names.js";
import type { Tensor } from "../../src/core/tensor.js";
import type { PartialOp } from "../../src/sharding/spec.js";
import fc from "fast-check";
import * as nb from "../../src/index.js";
import type { Storage } from "../../src/runtime/storage.js";
import { describeCase, meshes, randomData, randomSpec, Rng, type Domain, type InputCase } from "./spmd-support.js";

export interface PrimCase {
  readonly inputs: readonly InputCase[];
  readonly fn: (...args: Tensor[]) => Tensor;
}

const all: readonly PartialOp[] = ["sum", "max", "min"];
const float = (shape: readonly number[], kind: Domain["kind"] = "float"): InputCase => ({ aval: { shape, dtype: "float32" }, domain: { kind } as Domain });
const bool = (shape: readonly number[]): InputCase => ({ aval: { shape, dtype: "bool" }, domain: { kind: "bool" } });
const index = (shape: readonly number[], bound: number): InputCase => ({ aval: { shape, dtype: "int32" }, domain: { kind: "index", bound } });

function randomShape(rng: Rng, minRank = 1, maxRank = 3): number[] {
  return Array.from({ length: rng.int(minRank, maxRank + 1) }, () => rng.int(1, 7));
}

function apply<K extends PrimitiveName>(prim: K, params: ParamsOf<K>): (...args: Tensor[]) => Tensor {
  return (...args) => bind(prim, args, params);
}

function unary(prim: PrimitiveName, kind: Domain["kind"] = "float"): (rng: Rng) => PrimCase {
  return (rng) => {
    const shape = randomShape(rng);
    if (prim === "logicalNot") return { inputs: [bool(shape)], fn: apply(prim, {}) };
    if (prim === "cast") return { inputs: [float(shape)], fn: apply("cast", { dtype: "float64" }) };
    return { inputs: [float(shape, kind)], fn: apply(prim, {} as never) };
  };
}

function binary(prim: PrimitiveName, kinds: [Domain["kind"], Domain["kind"]] = ["float", "float"]): (rng: Rng) => PrimCase {
  return (rng) => {
    const shape = randomShape(rng);
    const make = (kind: Domain["kind"]): InputCase => (kind === "bool" ? bool(shape) : float(shape, kind));
    return { inputs: [make(kinds[0]), make(kinds[1])], fn: apply(prim, {} as never) };
  };
}

function randomAxes(rng: Rng, rank: number): number[] {
  const axes = Array.from({ length: rank }, (_, i) => i).filter(() => rng.next() < 0.5);
  return axes.length > 0 ? axes : [rng.int(0, rank)];
}

function reduction(prim: "reduceSum" | "reduceMax" | "reduceMin" | "reduceProd"): (rng: Rng) => PrimCase {
  return (rng) => {
    const shape = randomShape(rng);
    return { inputs: [float(shape, prim === "reduceProd" ? "positive" : "float")], fn: apply(prim, { axes: randomAxes(rng, shape.length) }) };
  };
}

function alongAxis(prim: "argmax" | "argmin" | "softmax" | "logSoftmax"): (rng: Rng) => PrimCase {
  return (rng) => {
    const shape = randomShape(rng);
    return { inputs: [float(shape)], fn: apply(prim, { axis: rng.int(0, shape.length) }) };
  };
}

/** Returns a reshape target: split one dimension into factors, merge two neighbours, or add and drop unit axes. */
function reshapeTarget(rng: Rng, shape: readonly number[]): number[] {
  const out = shape.filter((d) => d !== 1 || rng.next() < 0.5);
  const roll = rng.next();
  if (roll < 0.3 && out.length >= 2) {
    const i = rng.int(0, out.length - 1);
    out.splice(i, 2, out[i] * out[i + 1]);
  } else if (roll < 0.6) {
    const i = out.findIndex((d) => d % 2 === 0 && d > 2);
    if (i >= 0) out.splice(i, 1, 2, out[i] / 2);
  }
  if (rng.next() < 0.4) out.splice(rng.int(0, out.length + 1), 0, 1);
  return out;
}

function permutation(rng: Rng, n: number): number[] {
  const perm = Array.from({ length: n }, (_, i) => i);
  for (let i = n - 1; i > 0; i--) {
    const j = rng.int(0, i + 1);
    [perm[i], perm[j]] = [perm[j], perm[i]];
  }
  return perm;
}

/** An explicit collective: only nb.shardMap places it, and the partitioner raises a ShardingError. */
export interface ShardMapOnlyCase {
  readonly shardMapOnly: (x: Tensor) => Tensor;
}

const shardMapOnly = <K extends PrimitiveName>(prim: K, params: ParamsOf<K>): ShardMapOnlyCase => ({ shardMapOnly: (x) => bind(prim, prim === "axisIndex" ? [] : [x], params) });

/** A primitive whose nodes are created with their value, so the partitioner places them as constants. */
export interface CreatedWithValueCase {
  readonly createdWithValue: true;
}

export const cases: { readonly [K in PrimitiveName]: ((rng: Rng) => PrimCase) | ShardMapOnlyCase | CreatedWithValueCase } = {
  neg: unary("neg"),
  exp: unary("exp"),
  log: unary("log", "positive"),
  log1p: unary("log1p", "positive"),
  sqrt: unary("sqrt", "positive"),
  rsqrt: unary("rsqrt", "positive"),
  abs: unary("abs"),
  sign: unary("sign"),
  sin: unary("sin"),
  cos: unary("cos"),
  tanh: unary("tanh"),
  sigmoid: unary("sigmoid"),
  relu: unary("relu"),
  erf: unary("erf"),
  logicalNot: unary("logicalNot"),
  cast: unary("cast"),
  identity: unary("identity"),
  stopGradient: unary("stopGradient"),

  add: binary("add"),
  sub: binary("sub"),
  mul: binary("mul"),
  div: binary("div", ["float", "positive"]),
  pow: binary("pow", ["positive", "float"]),
  maximum: binary("maximum"),
  minimum: binary("minimum"),
  equal: binary("equal"),
  notEqual: binary("notEqual"),
  less: binary("less"),
  lessEqual: binary("lessEqual"),
  greater: binary("greater"),
  greaterEqual: binary("greaterEqual"),
  logicalAnd: binary("logicalAnd", ["bool", "bool"]),
  logicalOr: binary("logicalOr", ["bool", "bool"]),
  where: (rng) => {
    const shape = randomShape(rng);
    return { inputs: [bool(shape), float(shape), float(shape)], fn: apply("where", {}) };
  },

  reduceSum: reduction("reduceSum"),
  reduceMax: reduction("reduceMax"),
  reduceMin: reduction("reduceMin"),
  reduceProd: reduction("reduceProd"),
  argmax: alongAxis("argmax"),
  argmin: alongAxis("argmin"),
  softmax: alongAxis("softmax"),
  logSoftmax: alongAxis("logSoftmax"),
  layerNorm: (rng) => {
    const shape = randomShape(rng, 2);
    const width = [shape[shape.length - 1]];
    return { inputs: [float(shape), float(width), float(width)], fn: apply("layerNorm", { eps: 1e-5 }) };
  },
  layerNormGrad: (rng) => {
    const rows = rng.int(1, 6);
    const width = rng.int(1, 6);
    return { inputs: [float([rows, width]), float([rows, width]), float([width])], fn: apply("layerNormGrad", { eps: 1e-5 }) };
  },

  matmul: (rng) => {
    const batch = rng.next() < 0.5 ? [] : [rng.int(1, 4)];
    const [m, k, n] = [rng.int(1, 7), rng.int(1, 7), rng.int(1, 7)];
    return { inputs: [float([...batch, m, k]), float([...batch, k, n])], fn: apply("matmul", {}) };
  },

  reshape: (rng) => {
    const shape = randomShape(rng);
    return { inputs: [float(shape)], fn: apply("reshape", { shape: reshapeTarget(rng, shape) }) };
  },
  transpose: (rng) => {
    const shape = randomShape(rng);
    return { inputs: [float(shape)], fn: apply("transpose", { perm: permutation(rng, shape.length) }) };
  },
  broadcastTo: (rng) => {
    const target = randomShape(rng);
    const shape = target.map((d) => (rng.next() < 0.5 ? 1 : d));
    return { inputs: [float(shape)], fn: apply("broadcastTo", { shape: target }) };
  },
  slice: (rng) => {
    const shape = randomShape(rng);
    const whole = shape.map(() => rng.next() < 0.5);
    const start = shape.map((n, i) => (whole[i] ? 0 : rng.int(0, n)));
    const stop = shape.map((n, i) => (whole[i] ? n : rng.int(start[i], n + 1)));
    const step = shape.map((_, i) => (whole[i] ? 1 : rng.int(1, 3)));
    return { inputs: [float(shape)], fn: apply("slice", { start, stop, step }) };
  },
  pad: (rng) => {
    const shape = randomShape(rng);
    const widths = (): number[] => shape.map(() => (rng.next() < 0.5 ? 0 : rng.int(0, 3)));
    return { inputs: [float(shape)], fn: apply("pad", { low: widths(), high: widths(), interior: widths(), value: rng.next() < 0.5 ? 0 : 1.5 }) };
  },
  concat: (rng) => {
    const shape = randomShape(rng);
    const axis = rng.int(0, shape.length);
    const parts = Array.from({ length: rng.int(2, 4) }, () => float(shape.map((d, i) => (i === axis ? rng.int(1, 5) : d))));
    return { inputs: parts, fn: apply("concat", { axis }) };
  },
  flip: (rng) => {
    const shape = randomShape(rng);
    return { inputs: [float(shape)], fn: apply("flip", { axes: randomAxes(rng, shape.length) }) };
  },

  gather: (rng) => {
    const shape = randomShape(rng);
    const axis = rng.int(0, shape.length);
    return { inputs: [float(shape), index(randomShape(rng, 1, 2), shape[axis])], fn: apply("gather", { axis }) };
  },
  scatterAdd: (rng) => {
    const shape = randomShape(rng);
    const axis = rng.int(0, shape.length);
    const indices = randomShape(rng, 1, 2);
    const updates = [...shape.slice(0, axis), ...indices, ...shape.slice(axis + 1)];
    return { inputs: [float(shape), index(indices, shape[axis]), float(updates)], fn: apply("scatterAdd", { axis }) };
  },
  checkIndices: (rng) => ({ inputs: [index(randomShape(rng), 5)], fn: apply("checkIndices", { bound: 5, op: "test" }) }),

  randomBits: (rng) => ({ inputs: [{ aval: { shape: [2], dtype: "int32" }, domain: { kind: "key" } }], fn: apply("randomBits", { shape: randomShape(rng) }) }),
  randomUniform: (rng) => ({ inputs: [{ aval: { shape: [2], dtype: "int32" }, domain: { kind: "key" } }], fn: apply("randomUniform", { shape: randomShape(rng), dtype: "float32" }) }),
  randomNormal: (rng) => ({ inputs: [{ aval: { shape: [2], dtype: "int32" }, domain: { kind: "key" } }], fn: apply("randomNormal", { shape: randomShape(rng), dtype: "float32" }) }),

  psum: shardMapOnly("psum", { axes: ["x"] }),
  pmean: shardMapOnly("pmean", { axes: ["x"] }),
  pmax: shardMapOnly("pmax", { axes: ["x"] }),
  allGatherAxis: shardMapOnly("allGatherAxis", { axis: "x", dim: 0 }),
  psumScatter: shardMapOnly("psumScatter", { axis: "x", dim: 0 }),
  allToAllAxis: shardMapOnly("allToAllAxis", { axis: "x", splitDim: 0, concatDim: 1 }),
  ppermute: shardMapOnly("ppermute", { axis: "x", pairs: [[0, 1], [1, 0]] }),
  axisIndex: shardMapOnly("axisIndex", { axis: "x" }),
  pvary: shardMapOnly("pvary", { axes: ["x"] }),
  shardMapCall: { createdWithValue: true },
};

/** Returns the random case of `prim`, or undefined for primitives the partitioner never places. */
export function randomCase(prim: PrimitiveName): ((rng: Rng) => PrimCase) | undefined {
  const entry = cases[prim];
  return typeof entry === "function" ? entry : undefined;
}

/** Partial inputs only where the data is float; an integer or bool value has no meaningful pending sum. */
export function partialOpsFor(input: InputCase): readonly PartialOp[] {
  return input.aval.dtype === "float32" ? all : [];
}


/** A drawn case: the traced graph, each input's spec and data, and a label naming the case. */
export interface DrawnCase {
  readonly graph: nb.Graph;
  readonly specs: readonly nb.ShardingSpec[];
  readonly globals: readonly Storage[];
  readonly meshIndex: number;
  readonly label: string;
}

/** Checks `check` on `numRuns` random cases of `testCase` over the test meshes, with random specs and data. */
export function assertOverRandomCases(prim: string, testCase: (rng: Rng) => PrimCase, check: (drawn: DrawnCase) => void, runs: { numRuns: number; seed: number }): void {
  fc.assert(
    fc.property(fc.integer({ min: 0, max: 2 ** 31 - 1 }), fc.integer({ min: 0, max: meshes.length - 1 }), (seed, meshIndex) => {
      const rng = new Rng(seed);
      const mesh = meshes[meshIndex];
      const { inputs, fn } = testCase(rng);
      const specs = inputs.map((input) => randomSpec(rng, input.aval.shape.length, mesh, partialOpsFor(input)));
      const globals = inputs.map((input) => randomData(rng, input));
      const graph = nb.traceGraph(fn as (...args: never[]) => unknown, inputs.map((input) => input.aval));
      check({ graph, specs, globals, meshIndex, label: `${prim} on ${describeCase(mesh, specs, inputs.map((i) => i.aval))} (seed ${seed})` });
    }),
    runs,
  );
}
