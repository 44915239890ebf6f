// nn.functional and layers: finite-difference gradients, dropout, losses and input errors.

import { describe, expect, it } from "vitest";
import * as nb from "../../src/index.js";

const { nn } = nb;
const F = nn.functional;

class Small extends nn.Module {
  proj = new nn.Linear(4, 6, { dtype: "float64" });
  norm = new nn.LayerNorm(6, { dtype: "float64" });
  attn = new nn.MultiHeadAttention(6, 2, { dtype: "float64" });
  head = new nn.Linear(6, 3, { dtype: "float64" });

  override forward(x: nb.Tensor): nb.Tensor {
    const h = nb.tanh(this.norm.call(this.proj.call(x)));
    const a = this.attn.call(h, h, h, { isCausal: true });
    return this.head.call(nb.mean(nb.add(h, a), { axis: 1 }));
  }
}

describe("gradients by finite differences", () => {
  it("small module in float64", () => {
    nb.random.seed(8);
    const model = new Small();
    for (const p of model.parameters()) nn.init.normal(p, { std: 0.5 });
    const x = nb.random.normal([2, 3, 4], { dtype: "float64" });
    const y = nb.tensor([2, 0], { dtype: "int32" });
    const loss = (m: Small): nb.Tensor => F.crossEntropyLoss(m.call(x), y, { labelSmoothing: 0.1 });
    const [, grads] = nb.valueAndGrad(loss)(model);
    const analytic = new Map((grads as Small).namedParameters());

    const h = 1e-6;
    for (const [name, p] of model.namedParameters()) {
      const data = p.toArray() as Float64Array;
      for (const index of [0, Math.floor(data.length / 2), data.length - 1]) {
        const perturbed = (delta: number): number => {
          const copy = data.slice();
          copy[index] += delta;
          p.assign(nb.tensor(copy, { dtype: "float64", shape: p.shape }));
          const value = loss(model).item();
          p.assign(nb.tensor(data, { dtype: "float64", shape: p.shape }));
          return value;
        };
        const numeric = (perturbed(h) - perturbed(-h)) / (2 * h);
        const got = (analytic.get(name) as nb.Tensor).toArray()[index];
        expect(Math.abs(got - numeric), `${name}[${index}]: analytic ${got}, numeric ${numeric}`).toBeLessThan(1e-7 + 1e-6 * Math.abs(numeric));
      }
    }
  });
});

describe("dropout", () => {
  it("scales kept values in training", () => {
    const x = nb.add(nb.random.normal([40, 50], { key: nb.random.key(1) }), 3);
    const y = F.dropout(x, 0.3, { key: nb.random.key(2) });
    const xs = x.toArray();
    const ys = y.toArray();
    let dropped = 0;
    ys.forEach((v, i) => {
      if (v === 0) dropped++;
      else expect(v).toBeCloseTo(xs[i] / 0.7, 5);
    });
    expect(dropped / ys.length).toBeGreaterThan(0.25);
    expect(dropped / ys.length).toBeLessThan(0.35);
  });

  it("module is identity in eval", () => {
    const layer = new nn.Dropout(0.5).eval();
    const x = nb.random.normal([3, 5]);
    expect(layer.call(x)).toBe(x);
  });
});

describe("losses", () => {
  it("bce with logits matches the naive formula", () => {
    const logits = nb.tensor([-2.5, -0.3, 0, 1.7, 4]);
    const target = nb.tensor([0, 1, 0.5, 1, 0]);
    const loss = F.binaryCrossEntropyWithLogits(logits, target, { reduction: "none", posWeight: 2 });
    const expected = [-2.5, -0.3, 0, 1.7, 4].map((x, i) => {
      const t = [0, 1, 0.5, 1, 0][i];
      const s = 1 / (1 + Math.exp(-x));
      return -(2 * t * Math.log(s) + (1 - t) * Math.log(1 - s));
    });
    Array.from(loss.toArray()).forEach((v, i) => expect(v).toBeCloseTo(expected[i], 5));
  });

  it("mse reductions", () => {
    const a = nb.tensor([[1, 2], [3, 5]]);
    const b = nb.tensor([[0, 2], [1, 1]]);
    expect(F.mseLoss(a, b).item()).toBeCloseTo(21 / 4, 6);
    expect(F.mseLoss(a, b, { reduction: "sum" }).item()).toBeCloseTo(21, 6);
  });

  it("cross entropy on a last class axis", () => {
    const logits = nb.random.normal([2, 3, 4], { key: nb.random.key(5) });
    const target = nb.tensor([[0, 3, 1], [2, 2, 0]], { dtype: "int32" });
    const last = F.crossEntropyLoss(logits, target, { axis: -1 }).item();
    const moved = F.crossEntropyLoss(nb.swapAxes(logits, 1, 2), target).item();
    expect(last).toBeCloseTo(moved, 6);
  });

  it("cross entropy rejects bad targets", () => {
    const logits = nb.zeros([3, 4]);
    expect(() => F.crossEntropyLoss(logits, nb.tensor([0, 1], { dtype: "int32" }))).toThrowError(nb.ShapeError);
    expect(() => F.crossEntropyLoss(logits, nb.tensor([true, false, true]))).toThrowError(nb.DTypeError);
  });
});

describe("layer input errors", () => {
  it("name the module and shapes", () => {
    const attn = new nn.MultiHeadAttention(4, 2);
    expect(() => attn.call(nb.zeros([2, 3, 5]))).toThrowError(/MultiHeadAttention: query \[1?.*5\]/);
    expect(() => new nn.MultiHeadAttention(5, 2)).toThrowError("embedDim 5 must be divisible by numHeads 2");
    expect(() => new nn.Linear(3, 2).call(nb.zeros([4, 2]))).toThrowError(nb.ShapeError);
    expect(() => new nn.Embedding(5, 2).call(nb.zeros([3]))).toThrowError(nb.DTypeError);
  });

  it("causal mask blocks the future", () => {
    const attn = new nn.MultiHeadAttention(4, 1);
    const x = nb.random.normal([1, 3, 4]);
    const [, weights] = attn.forwardWithWeights(x, x, x, { isCausal: true });
    const w = weights.tolist() as number[][][];
    expect(w[0][0][1]).toBe(0);
    expect(w[0][0][2]).toBe(0);
    expect(w[0][1][2]).toBe(0);
    expect(w[0][2][0]).toBeGreaterThan(0);
  });
});
