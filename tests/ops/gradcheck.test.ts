// Gradient checks: every primitive in the registry, then composite ops through the public API.

import { describe, expect, it } from "vitest";
import * as nb from "../../src/index.js";
import type { Tensor } from "../../src/index.js";
import { bind } from "../../src/core/bind.js";
import type { ParamsOf, PrimitiveName } from "../../src/core/primitive-names.js";
import { primitives } from "../../src/ops/registry.js";
import { checkGradients, expectClose, type GradCheckOptions } from "../support/finite-differences.js";
import { checkShardMapGradients, collectiveGradCases, type CollectiveGradCase } from "../support/shard-map-gradcheck.js";
import { awayFromZero, randBool, randn, randu, Rng } from "../support/random.js";

interface DiffCase<K extends PrimitiveName> extends GradCheckOptions {
  readonly inputs: (rng: Rng) => Tensor[];
  readonly params: ParamsOf<K>;
  /** Positions of the differentiable inputs; all of them when omitted. */
  readonly wrt?: readonly number[];
}

interface NoGradCase<K extends PrimitiveName> {
  readonly noGradient: string;
  readonly inputs: (rng: Rng) => Tensor[];
  readonly params: ParamsOf<K>;
}

/** A collective, which runs only inside nb.shardMap: checked there on a [2, 2] mesh along one axis. */
interface ShardMapCase {
  readonly insideShardMap: CollectiveGradCase;
}

/** A primitive that only a shardMap call creates: checked by differentiating a function that makes the call. */
interface ThroughCallCase extends GradCheckOptions {
  readonly throughCall: (rng: Rng) => { readonly f: (...xs: Tensor[]) => Tensor; readonly inputs: Tensor[] };
}

type Case<K extends PrimitiveName> = DiffCase<K> | NoGradCase<K> | ShardMapCase | ThroughCallCase;

const none = {} as Record<string, never>;
const f64 = (data: number[], shape: number[]): Tensor => nb.tensor(Float64Array.from(data), { shape });
const i32 = (data: number[], shape: number[]): Tensor => nb.tensor(Int32Array.from(data), { shape });
const key = (): Tensor => nb.random.key(42);

// Typed over every primitive name, so a new primitive without a case fails tsc (and the coverage test).
const cases: { readonly [K in PrimitiveName]: Case<K> } = {
  neg: { inputs: (r) => [randn(r, [3, 5])], params: none },
  identity: { inputs: (r) => [randn(r, [7])], params: none },
  exp: { inputs: (r) => [randn(r, [3, 5])], params: none },
  log: { inputs: (r) => [randu(r, [3, 5], 0.5, 2)], params: none },
  log1p: { inputs: (r) => [randu(r, [5, 3], -0.5, 2)], params: none },
  sqrt: { inputs: (r) => [randu(r, [3, 5], 0.5, 2)], params: none },
  rsqrt: { inputs: (r) => [randu(r, [3, 5], 0.5, 2)], params: none },
  abs: { inputs: (r) => [awayFromZero(r, [3, 5])], params: none },
  sin: { inputs: (r) => [randn(r, [3, 5])], params: none },
  cos: { inputs: (r) => [randn(r, [3, 5])], params: none },
  tanh: { inputs: (r) => [randn(r, [3, 5])], params: none },
  sigmoid: { inputs: (r) => [randn(r, [3, 5])], params: none },
  relu: { inputs: (r) => [awayFromZero(r, [3, 5])], params: none },
  erf: { inputs: (r) => [randn(r, [5, 3])], params: none },
  // The float32 output limits the precision of the finite difference.
  cast: { inputs: (r) => [randn(r, [3, 5])], params: { dtype: "float32" }, eps: 1e-2, rtol: 1e-3, atol: 1e-4 },

  add: { inputs: (r) => [randn(r, [3, 5]), randn(r, [3, 5])], params: none },
  sub: { inputs: (r) => [randn(r, [3, 5]), randn(r, [3, 5])], params: none },
  mul: { inputs: (r) => [randn(r, [3, 5]), randn(r, [3, 5])], params: none },
  div: { inputs: (r) => [randn(r, [3, 5]), awayFromZero(r, [3, 5], 0.5)], params: none },
  pow: { inputs: (r) => [randu(r, [3, 5], 0.5, 2), randn(r, [3, 5])], params: none },
  maximum: { inputs: (r) => [randn(r, [3, 5]), randn(r, [3, 5])], params: none },
  minimum: { inputs: (r) => [randn(r, [3, 5]), randn(r, [3, 5])], params: none },
  where: { inputs: (r) => [randBool(r, [3, 5]), randn(r, [3, 5]), randn(r, [3, 5])], params: none, wrt: [1, 2] },

  reduceSum: { inputs: (r) => [randn(r, [3, 2, 5])], params: { axes: [0, 2] } },
  reduceMax: { inputs: (r) => [randn(r, [3, 5])], params: { axes: [1] } },
  reduceMin: { inputs: (r) => [randn(r, [5, 3])], params: { axes: [0] } },
  reduceProd: { inputs: (r) => [awayFromZero(r, [3, 5], 0.5)], params: { axes: [1] } },

  softmax: { inputs: (r) => [randn(r, [3, 5])], params: { axis: 1 } },
  logSoftmax: { inputs: (r) => [randn(r, [5, 3, 7])], params: { axis: 1 } },

  layerNorm: { inputs: (r) => [randn(r, [2, 3, 5]), randn(r, [5]), randn(r, [5])], params: { eps: 1e-5 } },
  layerNormGrad: { inputs: (r) => [randn(r, [3, 7]), randn(r, [3, 7]), randn(r, [7])], params: { eps: 0.1 } },

  matmul: { inputs: (r) => [randn(r, [3, 3, 5]), randn(r, [3, 5, 7])], params: none },

  reshape: { inputs: (r) => [randn(r, [3, 5])], params: { shape: [5, 3] } },
  transpose: { inputs: (r) => [randn(r, [2, 3, 5])], params: { perm: [2, 0, 1] } },
  broadcastTo: { inputs: (r) => [randn(r, [3, 1, 5])], params: { shape: [3, 7, 5] } },
  slice: { inputs: (r) => [randn(r, [7, 5])], params: { start: [1, 0], stop: [7, 5], step: [2, 3] } },
  pad: { inputs: (r) => [randn(r, [3, 5])], params: { low: [1, 0], high: [2, 1], interior: [1, 2], value: 0.5 } },
  concat: { inputs: (r) => [randn(r, [3, 2]), randn(r, [3, 5]), randn(r, [3, 1])], params: { axis: 1 } },
  flip: { inputs: (r) => [randn(r, [3, 2, 5])], params: { axes: [0, 2] } },

  gather: { inputs: (r) => [randn(r, [5, 3]), i32([4, 0, 4, 2, 1, 4], [3, 2])], params: { axis: 0 }, wrt: [0] },
  scatterAdd: {
    inputs: (r) => [randn(r, [3, 5]), i32([4, 0, 4], [3]), randn(r, [3, 3])],
    params: { axis: 1 },
    wrt: [0, 2],
  },

  sign: { noGradient: "piecewise constant: the derivative is 0 wherever it exists", inputs: (r) => [awayFromZero(r, [5])], params: none },
  logicalNot: { noGradient: "bool in, bool out", inputs: (r) => [randBool(r, [5])], params: none },
  stopGradient: { noGradient: "blocks gradients by definition", inputs: (r) => [randn(r, [5])], params: none },
  equal: { noGradient: "comparison with a bool result", inputs: (r) => [randn(r, [5]), randn(r, [5])], params: none },
  notEqual: { noGradient: "comparison with a bool result", inputs: (r) => [randn(r, [5]), randn(r, [5])], params: none },
  less: { noGradient: "comparison with a bool result", inputs: (r) => [randn(r, [5]), randn(r, [5])], params: none },
  lessEqual: { noGradient: "comparison with a bool result", inputs: (r) => [randn(r, [5]), randn(r, [5])], params: none },
  greater: { noGradient: "comparison with a bool result", inputs: (r) => [randn(r, [5]), randn(r, [5])], params: none },
  greaterEqual: { noGradient: "comparison with a bool result", inputs: (r) => [randn(r, [5]), randn(r, [5])], params: none },
  logicalAnd: { noGradient: "bool in, bool out", inputs: (r) => [randBool(r, [5]), randBool(r, [5])], params: none },
  logicalOr: { noGradient: "bool in, bool out", inputs: (r) => [randBool(r, [5]), randBool(r, [5])], params: none },
  argmax: { noGradient: "integer index result", inputs: (r) => [randn(r, [3, 5])], params: { axis: 1 } },
  argmin: { noGradient: "integer index result", inputs: (r) => [randn(r, [3, 5])], params: { axis: 0 } },
  checkIndices: { noGradient: "integer indices in, the same indices out", inputs: () => [nb.tensor([0, 2, 1], { dtype: "int32" })], params: { bound: 3, op: "test" } },
  randomBits: { noGradient: "the only input is an integer key", inputs: () => [key()], params: { shape: [5] } },
  randomUniform: { noGradient: "the only input is an integer key", inputs: () => [key()], params: { shape: [5], dtype: "float64" } },
  randomNormal: { noGradient: "the only input is an integer key", inputs: () => [key()], params: { shape: [5], dtype: "float64" } },

  psum: { insideShardMap: collectiveGradCases.psum },
  pmean: { insideShardMap: collectiveGradCases.pmean },
  pmax: { insideShardMap: collectiveGradCases.pmax },
  allGatherAxis: { insideShardMap: collectiveGradCases.allGatherAxis },
  psumScatter: { insideShardMap: collectiveGradCases.psumScatter },
  allToAllAxis: { insideShardMap: collectiveGradCases.allToAllAxis },
  ppermute: { insideShardMap: collectiveGradCases.ppermute },
  axisIndex: { insideShardMap: collectiveGradCases.axisIndex },
  pvary: { insideShardMap: collectiveGradCases.pvary },
  shardMapCall: {
    throughCall: (r) => {
      // x is split over both axes and w over y, so a psum over y finishes each local product.
      const mesh = { shape: [2, 2], axisNames: ["x", "y"] };
      const call = nb.shardMap((a: Tensor, b: Tensor) => nb.psum(nb.matmul(nb.tanh(a), b), "y"), { mesh, inSpecs: [nb.P("x", "y"), nb.P("y", null)], outSpecs: nb.P("x", null) });
      return { f: (a, b) => nb.sin(call(a, b)), inputs: [randn(r, [4, 6]), randn(r, [6, 3])] };
    },
  },
};

function apply(name: PrimitiveName, inputs: readonly Tensor[], params: unknown): Tensor {
  return bind(name, inputs, params as ParamsOf<PrimitiveName>);
}

/** Seeds differ per primitive so that no two cases share inputs. */
function seedOf(name: string): number {
  let h = 2166136261;
  for (const c of name) h = Math.imul(h ^ c.charCodeAt(0), 16777619);
  return h >>> 0;
}

const names = Object.keys(cases) as PrimitiveName[];
const collectives = names.filter((n) => "insideShardMap" in cases[n]);
const throughCall = names.filter((n) => "throughCall" in cases[n]);
const differentiable = names.filter((n) => !("noGradient" in cases[n]) && !collectives.includes(n) && !throughCall.includes(n));
const nonDifferentiable = names.filter((n) => "noGradient" in cases[n]);

describe("primitive gradient table", () => {
  it("covers every registered primitive", () => {
    expect([...names].sort()).toEqual(Object.keys(primitives).sort());
  });

  it.each(differentiable)("%s matches finite differences", (name) => {
    const c = cases[name] as DiffCase<PrimitiveName>;
    const rng = new Rng(seedOf(name));
    const inputs = c.inputs(rng);
    const wrt = c.wrt ?? inputs.map((_, i) => i);
    const f = (...diff: Tensor[]): Tensor => {
      const all = [...inputs];
      wrt.forEach((position, i) => (all[position] = diff[i]));
      return apply(name, all, c.params);
    };
    checkGradients(f, wrt.map((i) => inputs[i]), rng, c);
  });

  // VJP rules are written with differentiable ops, so x -> u^T J(x) must itself match finite differences.
  it.each(differentiable)("%s VJP rule is differentiable", (name) => {
    const c = cases[name] as DiffCase<PrimitiveName>;
    const rng = new Rng(seedOf(name) ^ 0x5eed);
    const inputs = c.inputs(rng);
    const wrt = c.wrt ?? inputs.map((_, i) => i);
    const f = (...diff: Tensor[]): Tensor => {
      const all = [...inputs];
      wrt.forEach((position, i) => (all[position] = diff[i]));
      return apply(name, all, c.params);
    };
    const out = f(...wrt.map((i) => inputs[i]));
    const u = nb.cast(randn(rng, out.shape), out.dtype);
    const cotangents = (...diff: Tensor[]): Tensor => {
      const [, pull] = nb.vjp(f, ...diff);
      return nb.concat((pull(u) as Tensor[]).map((g) => nb.flatten(g)));
    };
    checkGradients(cotangents, wrt.map((i) => inputs[i]), rng, c);
  });

  it.each(nonDifferentiable)("%s has no gradient", (name) => {
    const c = cases[name] as NoGradCase<PrimitiveName>;
    const rng = new Rng(seedOf(name));
    const inputs = c.inputs(rng);
    const out = apply(name, inputs, c.params);
    const rule = primitives[name] as (typeof primitives)["neg"];
    const ct = nb.onesLike(out);

    expect(rule.vjp(ct, inputs, out, c.params as never).every((g) => g === null)).toBe(true);
    expect(rule.jvp(inputs.map((x) => nb.onesLike(x)), inputs, out, c.params as never)).toBeNull();

    const floats = inputs.map((x, i) => [x, i] as const).filter(([x]) => x.dtype === "float64");
    for (const [x, position] of floats) {
      const f = (y: Tensor): Tensor => nb.cast(apply(name, inputs.map((z, i) => (i === position ? y : z)), c.params), "float64");
      const [, pull] = nb.vjp(f, x);
      const [g] = pull(nb.onesLike(f(x))) as Tensor[];
      expectClose(g.toArray(), new Float64Array(x.numel()), {}, `${name} gradient of input ${position}`);
    }
  });
});

describe("collective gradient table", () => {
  const mesh = { shape: [2, 2], axisNames: ["x", "y"] };

  it.each(collectives)("%s matches finite differences inside shardMap", (name) => {
    const { apply, localShape } = (cases[name] as ShardMapCase).insideShardMap;
    const rng = new Rng(seedOf(name));
    checkShardMapGradients(mesh, (x) => apply(x, "y", 2), localShape(2), rng, { x: "split", u: "split" });
  });

  it.each(collectives)("%s raises outside shardMap", (name) => {
    const x = randn(new Rng(seedOf(name)), (cases[name] as ShardMapCase).insideShardMap.localShape(2));
    const call = (): Tensor => bind(name, name === "axisIndex" ? [] : [x], paramsOutside(name));
    expect(call).toThrow(nb.ShardingError);
    expect(call).toThrow(/mesh axis "y" is not bound; call \w+ inside the body of nb.shardMap/);
  });
});

describe("shardMap call gradient table", () => {
  it.each(throughCall)("%s matches finite differences", (name) => {
    const c = cases[name] as ThroughCallCase;
    const rng = new Rng(seedOf(name));
    const { f, inputs } = c.throughCall(rng);
    checkGradients(f, inputs, rng, c);
  });

  it.each(throughCall)("%s VJP rule is differentiable", (name) => {
    const c = cases[name] as ThroughCallCase;
    const rng = new Rng(seedOf(name) ^ 0x5eed);
    const { f, inputs } = c.throughCall(rng);
    const u = randn(rng, f(...inputs).shape);
    const cotangents = (...xs: Tensor[]): Tensor => {
      const [, pull] = nb.vjp(f, ...xs);
      return nb.concat((pull(u) as Tensor[]).map((g) => nb.flatten(g)));
    };
    checkGradients(cotangents, inputs, rng, c);
  });
});

/** Params of a collective along mesh axis "y", for binding it where no axis is bound. */
function paramsOutside(name: PrimitiveName): ParamsOf<PrimitiveName> {
  const byName: Partial<Record<PrimitiveName, unknown>> = {
    psum: { axes: ["y"] },
    pmean: { axes: ["y"] },
    pmax: { axes: ["y"] },
    allGatherAxis: { axis: "y", dim: 0 },
    psumScatter: { axis: "y", dim: 0 },
    allToAllAxis: { axis: "y", splitDim: 0, concatDim: 1 },
    ppermute: { axis: "y", pairs: [[0, 1]] },
    axisIndex: { axis: "y" },
    pvary: { axes: ["y"] },
  };
  return byName[name] as ParamsOf<PrimitiveName>;
}

describe("composite op gradients", () => {
  const rng = new Rng(7);
  const check = (f: (...xs: Tensor[]) => Tensor, ...xs: Tensor[]): void => checkGradients(f, xs, rng);

  it("softmax and logSoftmax", () => {
    check((x) => nb.softmax(x), randn(rng, [3, 5]));
    check((x) => nb.softmax(x, 0), randn(rng, [3, 5]));
    check((x) => nb.logSoftmax(x, -1), randn(rng, [3, 5]));
  });

  it("layerNorm with and without affine parameters", () => {
    check((x, w, b) => nb.nn.functional.layerNorm(x, [5], w, b), randn(rng, [3, 5]), randn(rng, [5]), randn(rng, [5]));
    check((x, w) => nb.nn.functional.layerNorm(x, [2, 3], w, null, 1e-3), randn(rng, [4, 2, 3]), randn(rng, [2, 3]));
    check((x) => nb.nn.functional.layerNorm(x, [7]), randn(rng, [7]));
  });

  it("layerNorm second derivative", () => {
    const w = randn(rng, [5]);
    const inner = (x: Tensor): Tensor => nb.sum(nb.sin(nb.nn.functional.layerNorm(x, [5], w, null)));
    check((x) => nb.grad(inner)(x) as Tensor, randn(rng, [3, 5]));
  });

  it("logsumexp", () => {
    check((x) => nb.logsumexp(x, { axis: 1 }), randn(rng, [3, 5]));
    check((x) => nb.logsumexp(x, { axis: 0, keepdims: true }), randn(rng, [3, 5]));
    check((x) => nb.logsumexp(x), randn(rng, [3, 5]));
  });

  it("var and mean", () => {
    check((x) => nb.variance(x, { axis: 0 }), randn(rng, [5, 3]));
    check((x) => nb.variance(x, { correction: 0, keepdims: true }), randn(rng, [3, 5]));
    check((x) => nb.mean(x, { axis: [0, 2] }), randn(rng, [3, 2, 5]));
  });

  it("gelu in both forms, silu", () => {
    check((x) => nb.gelu(x), randn(rng, [3, 5]));
    check((x) => nb.gelu(x, { approximate: "tanh" }), randn(rng, [3, 5]));
    check((x) => nb.silu(x), randn(rng, [3, 5]));
  });

  it("clip away from its bounds", () => {
    const x = f64([-1.7, -0.9, -0.3, 0.2, 0.45, 0.8, 1.3], [7]);
    check((y) => nb.clip(y, -0.5, 0.5), x);
    check((y) => nb.clip(y, null, 0.5), x);
  });

  it("matmul with broadcasting and 1-D operands", () => {
    check((a, b) => nb.matmul(a, b), randn(rng, [3, 5]), randn(rng, [2, 5, 3]));
    check((a, b) => nb.matmul(a, b), randn(rng, [2, 1, 3, 5]), randn(rng, [3, 5, 1]));
    check((a, b) => nb.matmul(a, b), randn(rng, [5]), randn(rng, [3, 5, 2]));
    check((a, b) => nb.matmul(a, b), randn(rng, [3, 5]), randn(rng, [5]));
    check((a, b) => nb.matmul(a, b), randn(rng, [5]), randn(rng, [5]));
    check((a, b) => nb.outer(a, b), randn(rng, [3]), randn(rng, [5]));
  });

  it("gather with duplicate indices", () => {
    const indices = i32([2, 0, 2, 2, 4], [5]);
    check((x) => nb.gather(x, indices, 0), randn(rng, [5, 3]));
    check((x) => nb.gather(x, indices, -1), randn(rng, [3, 5]));
  });

  it("pad, slice with negative step, concat", () => {
    check((x) => nb.pad(x, [[1, 2], [0, 3]], 1.5), randn(rng, [3, 5]));
    check((x) => nb.slice(x, [[null, null, -2], [4, 0, -3]]), randn(rng, [7, 5]));
    check((x) => nb.slice(x, [null, [-1, null, -1]]), randn(rng, [3, 5]));
    check((a, b) => nb.concat([a, b, a], 0), randn(rng, [3, 5]), randn(rng, [2, 5]));
  });

  it("stack and split", () => {
    check((a, b) => nb.stack([a, b], 1), randn(rng, [3, 5]), randn(rng, [3, 5]));
    check((x) => {
      const [p, q, s] = nb.split(x, [2, 1, 2], 1);
      return nb.concat([nb.mul(s, 3), nb.sin(p), q], 1);
    }, randn(rng, [3, 5]));
    check((x) => nb.stack(nb.split(x, 2, 0), -1).sum(-1), randn(rng, [4, 3]));
  });

  it("prod, max and pow with scalars", () => {
    check((x) => nb.prod(x, 0), awayFromZero(rng, [3, 5], 0.5));
    check((x) => nb.max(x, { axis: -1, keepdims: true }), randn(rng, [3, 5]));
    check((x) => nb.pow(x, 3), randn(rng, [5]));
    check((x) => nb.pow(2, x), randn(rng, [5]));
    check((x) => nb.div(1, x), awayFromZero(rng, [5], 0.5));
  });
});
