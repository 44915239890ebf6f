// Gradient checks through collectives inside nb.shardMap, against central finite differences of the
// global function that the shardMap call computes.

import { expect } from "vitest";
import * as nb from "../../src/index.js";
import type { Tensor } from "../../src/index.js";
import type { PrimitiveName } from "../../src/core/primitive-names.js";
import { expectClose } from "./finite-differences.js";
import type { Rng } from "./random.js";

export interface TestMesh {
  readonly shape: readonly number[];
  readonly axisNames: readonly string[];
}

/** A local function through one collective along `axis` (with `size` devices), and the local shape of its input. */
export interface CollectiveGradCase {
  readonly apply: (x: Tensor, axis: string, size: number) => Tensor;
  readonly localShape: (size: number) => number[];
}

export type CollectivePrim = Extract<PrimitiveName, "psum" | "pmean" | "pmax" | "allGatherAxis" | "psumScatter" | "allToAllAxis" | "ppermute" | "axisIndex" | "pvary">;

/** Returns [r, (r + shift) mod size] for every rank r: a cyclic shift. */
export function shiftPairs(size: number, shift = 1): [number, number][] {
  return Array.from({ length: size }, (_, r) => [r, (r + shift) % size]);
}

/** One case per collective primitive. axisIndex and pvary have no input to differentiate, so their cases combine them with x. */
export const collectiveGradCases: { readonly [K in CollectivePrim]: CollectiveGradCase } = {
  psum: { apply: (x, axis) => nb.psum(x, axis), localShape: () => [3, 5] },
  pmean: { apply: (x, axis) => nb.pmean(x, axis), localShape: () => [5, 3] },
  pmax: { apply: (x, axis) => nb.pmax(x, axis), localShape: () => [3, 5] },
  allGatherAxis: { apply: (x, axis) => nb.allGather(x, axis, { dim: 1, tiled: true }), localShape: () => [3, 5] },
  psumScatter: { apply: (x, axis) => nb.psumScatter(x, axis, { dim: 0, tiled: true }), localShape: (size) => [3 * size, 5] },
  allToAllAxis: { apply: (x, axis) => nb.allToAll(x, axis, { splitDim: 0, concatDim: 1 }), localShape: (size) => [3 * size, 5] },
  ppermute: { apply: (x, axis, size) => nb.ppermute(x, axis, shiftPairs(size)), localShape: () => [3, 5] },
  axisIndex: { apply: (x, axis) => nb.mul(x, nb.add(nb.cast(nb.axisIndex(axis), x.dtype), 1.5)), localShape: () => [3, 5] },
  // x * psum(x) uses the shared psum result per device, so shardMap inserts pvary before the mul.
  pvary: { apply: (x, axis) => nb.mul(x, nb.psum(nb.sin(x), axis)), localShape: () => [5, 3] },
};

export interface ShardMapGradOptions {
  /** Split x over every mesh axis (each device its own shard), or replicate it. */
  readonly x: "split" | "replicated";
  /** Split the cotangent u over every mesh axis, or replicate it, which gives a cotangent that is the same on every device. */
  readonly u: "split" | "replicated";
  /**
   * Check the gradient along this many random directions (one central difference pair each) instead
   * of one central difference per element, for inputs too large to perturb element by element.
   */
  readonly directions?: number;
}

function randomTensor(rng: Rng, shape: readonly number[]): Tensor {
  const count = shape.reduce((a, b) => a * b, 1);
  return nb.tensor(Float64Array.from({ length: count }, () => rng.uniform(-2, 2)), { shape: [...shape] });
}

/** Returns the global shape and spec of a value whose local shape is `local`, split along dim 0 over every axis or replicated. */
function globalLayout(mesh: TestMesh, local: readonly number[], mode: "split" | "replicated"): { shape: number[]; spec: nb.ShardingSpec } {
  if (mode === "replicated") return { shape: [...local], spec: nb.P() };
  const devices = mesh.shape.reduce((a, b) => a * b, 1);
  return { shape: [local[0] * devices, ...local.slice(1)], spec: nb.P([...mesh.axisNames]) };
}

/** Returns the local output shape of `apply`, captured while shardMap traces it. */
function localOutputShape(mesh: TestMesh, apply: (x: Tensor) => Tensor, x: Tensor, spec: nb.ShardingSpec): number[] {
  let shape: number[] = [];
  nb.shardMap((local: Tensor) => {
    shape = [...apply(local).shape];
    return local;
  }, { mesh, inSpecs: spec, outSpecs: spec })(x);
  return shape;
}

/**
 * Checks the gradient (valueAndGrad inside the body) and the JVP (jvp inside the body) of
 * F(X) = sum over devices of sum(u * apply(x)) against central differences of F in X.
 */
export function checkShardMapGradients(mesh: TestMesh, apply: (x: Tensor) => Tensor, localShape: readonly number[], rng: Rng, options: ShardMapGradOptions): void {
  const all = [...mesh.axisNames];
  const xLayout = globalLayout(mesh, localShape, options.x);
  const x = randomTensor(rng, xLayout.shape);
  const uLayout = globalLayout(mesh, localOutputShape(mesh, apply, x, xLayout.spec), options.u);
  const u = randomTensor(rng, uLayout.shape);
  const loss = (local: Tensor, cotangent: Tensor): Tensor => nb.psum(nb.sum(nb.mul(cotangent, apply(local))), all);
  const inSpecs = [xLayout.spec, uLayout.spec];

  const f = nb.shardMap(loss, { mesh, inSpecs, outSpecs: nb.P() });
  const gradient = nb.shardMap((local: Tensor, cotangent: Tensor) => {
    const g = nb.grad((y: Tensor) => loss(y, cotangent))(local) as Tensor;
    // A replicated input's gradient is each device's own, and the global input's gradient is their sum.
    return options.x === "replicated" ? nb.psum(g, all) : g;
  }, { mesh, inSpecs, outSpecs: xLayout.spec });

  const at = (data: Float64Array): number => f(nb.tensor(data, { shape: xLayout.shape }), u).item();
  const base = x.toArray() as Float64Array;
  const analytic = gradient(x, u);
  expect(analytic.shape, "gradient shape").toEqual(x.shape);
  if (options.directions === undefined) {
    expectClose(analytic.toArray(), elementDifferences(at, base), { rtol: 1e-5, atol: 1e-7 }, "vjp");
  } else {
    for (let k = 0; k < options.directions; k++) {
      const v = randomTensor(rng, xLayout.shape).toArray();
      const projected = Array.from(analytic.toArray()).reduce((acc, g, i) => acc + g * v[i], 0);
      expectClose([projected], [directionalDifference(at, base, v)], { rtol: 1e-5, atol: 1e-7 }, `vjp along direction ${k}`);
    }
  }

  const t = randomTensor(rng, xLayout.shape);
  const tangent = nb.shardMap((local: Tensor, cotangent: Tensor, direction: Tensor) => {
    const [, out] = nb.jvp((y: Tensor) => loss(y, cotangent), [local], [direction]);
    return out;
  }, { mesh, inSpecs: [xLayout.spec, uLayout.spec, xLayout.spec], outSpecs: nb.P() })(x, u, t);
  expectClose([tangent.item()], [directionalDifference(at, base, t.toArray())], { rtol: 1e-5, atol: 1e-7 }, "jvp");
}

const eps = 1e-6;

/** Returns (F(x + eps e_i) - F(x - eps e_i)) / 2 eps for every element i. */
function elementDifferences(at: (data: Float64Array) => number, base: Float64Array): Float64Array {
  return base.map((_, i) => {
    const plus = base.slice();
    const minus = base.slice();
    plus[i] += eps;
    minus[i] -= eps;
    return (at(plus) - at(minus)) / (2 * eps);
  });
}

/** Returns (F(x + eps v) - F(x - eps v)) / 2 eps, the derivative of F at x along v. */
function directionalDifference(at: (data: Float64Array) => number, base: Float64Array, v: ArrayLike<number>): number {
  const plus = base.map((value, i) => value + eps * v[i]);
  const minus = base.map((value, i) => value - eps * v[i]);
  return (at(plus) - at(minus)) / (2 * eps);
}
