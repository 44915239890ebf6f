// JAX-style transforms: grad and valueAndGrad over pytrees, argnums, hasAux, vjp and jvp, higher order.

import { describe, expect, it } from "vitest";
import * as nb from "../../src/index.js";
import type { Tensor } from "../../src/index.js";
import { expectClose, numericJvp, numericVjp } from "../support/finite-differences.js";
import { randn, Rng } from "../support/random.js";

const f64 = (data: number[] | number[][]): Tensor => nb.tensor(data, { dtype: "float64" });

describe("grad and valueAndGrad", () => {
  it("differentiates a scalar function of one tensor", () => {
    const g = nb.grad((x: Tensor) => nb.sum(nb.mul(x, x)))(f64([1, -2, 3])) as Tensor;
    expect(g.tolist()).toEqual([2, -4, 6]);
  });

  it("returns the value with the gradient", () => {
    const [value, g] = nb.valueAndGrad((x: Tensor) => nb.sum(nb.exp(x)))(f64([0, 1]));
    expect((value as Tensor).item()).toBeCloseTo(1 + Math.E, 14);
    expectClose((g as Tensor).toArray(), [1, Math.E], { rtol: 1e-15 });
  });

  it("gives gradients shaped like array and object pytrees", () => {
    const params = { w: f64([[1, 2], [3, 4]]), b: [f64([0.5]), f64([-1, 1])] };
    const loss = (p: typeof params): Tensor => nb.add(nb.sum(nb.mul(p.w, p.w)), nb.add(nb.sum(nb.mul(p.b[0], 3)), nb.sum(nb.mul(p.b[1], p.b[1]))));
    const g = nb.grad(loss)(params) as typeof params;
    expect(g.w.tolist()).toEqual([[2, 4], [6, 8]]);
    expect(g.b[0].tolist()).toEqual([3]);
    expect(g.b[1].tolist()).toEqual([-2, 2]);
  });

  it("keeps static leaves of the pytree", () => {
    const g = nb.grad((p: { x: Tensor; scale: number }) => nb.sum(nb.mul(p.x, p.scale)))({ x: f64([1, 2]), scale: 3 }) as { x: Tensor; scale: number };
    expect(g.x.tolist()).toEqual([3, 3]);
    expect(g.scale).toBe(3);
  });

  it("gives zeros for an input the output does not use", () => {
    const g = nb.grad((x: Tensor, _y: Tensor) => nb.sum(x), { argnums: 1 })(f64([1]), f64([2, 3])) as Tensor;
    expect(g.tolist()).toEqual([0, 0]);
  });

  it("honours argnums as a number and as a list", () => {
    const f = (x: Tensor, y: Tensor, z: Tensor): Tensor => nb.sum(nb.mul(nb.mul(x, y), z));
    const args = [f64([2]), f64([3]), f64([5])];
    expect((nb.grad(f, { argnums: 1 })(...args) as Tensor).tolist()).toEqual([10]);
    const [gz, gx] = nb.grad(f, { argnums: [2, 0] })(...args) as Tensor[];
    expect(gz.tolist()).toEqual([6]);
    expect(gx.tolist()).toEqual([15]);
    expect(() => nb.grad(f, { argnums: 3 })(...args)).toThrow(nb.IndexError);
  });

  it("passes aux through with hasAux", () => {
    const f = (x: Tensor): [Tensor, { count: number; doubled: Tensor }] => [nb.sum(nb.mul(x, x)), { count: 2, doubled: nb.mul(x, 2) }];
    const [grads, aux] = nb.grad(f, { hasAux: true })(f64([1, 2])) as [Tensor, { count: number; doubled: Tensor }];
    expect(grads.tolist()).toEqual([2, 4]);
    expect(aux.count).toBe(2);
    expect(aux.doubled.tolist()).toEqual([2, 4]);

    const [[value, aux2], g2] = nb.valueAndGrad(f, { hasAux: true })(f64([3])) as [[Tensor, { count: number }], Tensor];
    expect(value.item()).toBe(9);
    expect(aux2.count).toBe(2);
    expect(g2.tolist()).toEqual([6]);
  });

  it("differentiates with respect to a number argument", () => {
    const g = nb.grad((x: Tensor) => nb.mul(x, x))(3) as Tensor;
    expect(g.item()).toBe(6);
  });

  it("rejects a non-scalar loss and a malformed aux result", () => {
    expect(() => nb.grad((x: Tensor) => nb.mul(x, 2))(f64([1, 2]))).toThrow(nb.AutogradError);
    expect(() => nb.grad((x: Tensor) => nb.mul(x, 2))(f64([1, 2]))).toThrow(/\[2\]/);
    expect(() => nb.grad((x: Tensor) => nb.sum(x), { hasAux: true })(f64([1]))).toThrow(nb.AutogradError);
  });
});

describe("vjp and jvp on multi-output functions", () => {
  const rng = new Rng(11);
  const x = randn(rng, [3, 5]);
  const y = randn(rng, [5]);
  const f = (a: Tensor, b: Tensor): [Tensor, { s: Tensor }] => [nb.mul(nb.sin(a), b), { s: nb.sum(nb.mul(a, a), 1) }];

  it("vjp maps output cotangents to input cotangents", () => {
    const [out, pull] = nb.vjp(f, x, y);
    expect(out[0].shape).toEqual([3, 5]);
    const u0 = randn(rng, [3, 5]);
    const u1 = randn(rng, [3]);
    const [gx, gy] = pull([u0, { s: u1 }]) as Tensor[];

    // Each output's contribution, from finite differences of that output alone.
    const first = numericVjp((a, b) => f(a, b)[0], [x, y], u0);
    const second = numericVjp((a, b) => f(a, b)[1].s, [x, y], u1);
    expectClose(gx.toArray(), first[0].map((v, i) => v + second[0][i]), { rtol: 1e-6, atol: 1e-8 }, "x");
    expectClose(gy.toArray(), first[1].map((v, i) => v + second[1][i]), { rtol: 1e-6, atol: 1e-8 }, "y");
  });

  it("vjp rejects cotangents of the wrong shape", () => {
    const [, pull] = nb.vjp(f, x, y);
    expect(() => pull([nb.zeros([3]), { s: nb.zeros([3]) }] as never)).toThrow(nb.ShapeError);
  });

  it("jvp pushes tangents to every output", () => {
    const tx = randn(rng, [3, 5]);
    const ty = randn(rng, [5]);
    const [out, tangents] = nb.jvp(f, [x, y], [tx, ty]);
    expect(out[1].s.shape).toEqual([3]);
    expectClose(tangents[0].toArray(), numericJvp((a, b) => f(a, b)[0], [x, y], [tx, ty]), { rtol: 1e-6, atol: 1e-8 }, "first");
    expectClose(tangents[1].s.toArray(), numericJvp((a, b) => f(a, b)[1].s, [x, y], [tx, ty]), { rtol: 1e-6, atol: 1e-8 }, "second");
  });

  it("jvp gives zero tangents for outputs that ignore the inputs", () => {
    const [, t] = nb.jvp((a: Tensor) => [nb.mul(a, 2), nb.ones([2])], [f64([1])], [f64([1])]);
    expect(t[0].tolist()).toEqual([2]);
    expect(t[1].tolist()).toEqual([0, 0]);
  });

  it("jvp rejects tangents of the wrong shape or count", () => {
    expect(() => nb.jvp((a: Tensor) => a, [f64([1, 2])], [f64([1])])).toThrow(nb.ShapeError);
    expect(() => nb.jvp((a: Tensor) => a, [f64([1])], [])).toThrow(nb.ShapeError);
  });
});

describe("higher order", () => {
  const f = (x: Tensor): Tensor => nb.mul(nb.sin(x), nb.exp(nb.mul(x, 0.5)));
  const fPrime = (x: number): number => Math.cos(x) * Math.exp(x / 2) + 0.5 * Math.sin(x) * Math.exp(x / 2);

  it("grad(grad(f)) matches finite differences of f'", () => {
    const g2 = nb.grad(nb.grad(f) as (x: Tensor) => Tensor);
    for (const x0 of [-1.3, 0.4, 2.1]) {
      const eps = 1e-5;
      const expected = (fPrime(x0 + eps) - fPrime(x0 - eps)) / (2 * eps);
      const value = (g2(nb.tensor(x0, { dtype: "float64" })) as Tensor).item();
      expect(Math.abs(value - expected)).toBeLessThan(1e-8);
    }
  });

  it("grad(grad(grad(f))) of x^4 is 24 x", () => {
    const g3 = nb.grad(nb.grad(nb.grad((x: Tensor) => nb.pow(x, 4)) as (x: Tensor) => Tensor) as (x: Tensor) => Tensor);
    expect((g3(nb.tensor(1.5, { dtype: "float64" })) as Tensor).item()).toBeCloseTo(36, 10);
  });

  describe("Hessian-vector product of an MLP loss", () => {
    const rng = new Rng(2024);
    const data = { x: randn(rng, [7, 3]), y: randn(rng, [7, 2]) };
    const params = [randn(rng, [3, 5]), randn(rng, [5]), randn(rng, [5, 2]), randn(rng, [2])];
    const v = params.map((p) => randn(rng, p.shape));

    const loss = (w1: Tensor, b1: Tensor, w2: Tensor, b2: Tensor): Tensor => {
      const hidden = nb.tanh(nb.add(nb.matmul(data.x, w1), b1));
      const out = nb.add(nb.matmul(hidden, w2), b2);
      return nb.mean(nb.square(nb.sub(out, data.y)));
    };
    const gradient = nb.grad(loss, { argnums: [0, 1, 2, 3] }) as (...ps: Tensor[]) => Tensor[];

    /** H v from central differences of the gradient along v. */
    function numericHvp(): Float64Array[] {
      const eps = 1e-5;
      const at = (scale: number): Float64Array[] =>
        gradient(...params.map((p, i) => nb.add(p, nb.mul(v[i], scale)).realize())).map((g) => Float64Array.from(g.toArray()));
      const plus = at(eps);
      const minus = at(-eps);
      return plus.map((p, i) => p.map((value, j) => (value - minus[i][j]) / (2 * eps)));
    }

    const expected = numericHvp();

    it("as jvp of grad", () => {
      const [, hv] = nb.jvp(gradient, params, v);
      hv.forEach((h, i) => expectClose(h.toArray(), expected[i], { rtol: 1e-6, atol: 1e-8 }, `param ${i}`));
    });

    it("as grad of grad . v", () => {
      const gv = (...ps: Tensor[]): Tensor => gradient(...ps).map((g, i) => nb.sum(nb.mul(g, v[i]))).reduce((a, b) => nb.add(a, b));
      const hv = nb.grad(gv, { argnums: [0, 1, 2, 3] })(...params) as Tensor[];
      hv.forEach((h, i) => expectClose(h.toArray(), expected[i], { rtol: 1e-6, atol: 1e-8 }, `param ${i}`));
    });
  });
});
