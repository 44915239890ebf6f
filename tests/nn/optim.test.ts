// Optimizers: stateful against functional, train/eval switching, SGD, schedules and clipping.

import { describe, expect, it } from "vitest";
import * as nb from "../../src/index.js";

const { nn } = nb;
const { optim } = nn;

function makeModel(seed: number): nb.nn.Sequential {
  nb.random.seed(seed);
  return new nn.Sequential(new nn.Linear(3, 5), new nn.Dropout(0), new nn.Tanh(), new nn.Linear(5, 2));
}

function data(): [nb.Tensor, nb.Tensor] {
  nb.random.seed(99);
  return [nb.random.normal([7, 3]), nb.tensor([0, 1, 1, 0, 1, 0, 0], { dtype: "int32" })];
}

const lossOf = (model: nb.nn.Sequential, x: nb.Tensor, y: nb.Tensor): nb.Tensor => nn.functional.crossEntropyLoss(model.call(x), y);

function values(model: nb.nn.Module): number[][] {
  return model.parameters().map((p) => Array.from(p.toArray(), Number));
}

function stepStateful(model: nb.nn.Sequential, optimizer: nb.nn.optim.Optimizer, x: nb.Tensor, y: nb.Tensor): void {
  optimizer.zeroGrad();
  lossOf(model, x, y).backward();
  optimizer.step();
}

describe("AdamW styles", () => {
  it("functional matches stateful after 3 steps", () => {
    const [x, y] = data();
    const options = { lr: 0.03, betas: [0.85, 0.99] as const, eps: 1e-7, weightDecay: 0.05 };
    const eager = makeModel(11);
    const optimizer = new optim.AdamW(eager, options);
    let functional = makeModel(11);
    let state = optim.adamwInit(functional);
    for (let i = 0; i < 3; i++) {
      stepStateful(eager, optimizer, x, y);
      const [, grads] = nb.valueAndGrad(lossOf)(functional, x, y);
      [functional, state] = optim.adamwUpdate(functional, grads, state, options);
    }
    const a = values(eager);
    const b = values(functional);
    a.forEach((row, i) => row.forEach((v, j) => expect(b[i][j]).toBeCloseTo(v, 6)));
    expect(state.step.item()).toBe(3);
  });

  it("lr may be a scalar tensor", () => {
    const [x, y] = data();
    const model = makeModel(12);
    const [, grads] = nb.valueAndGrad(lossOf)(model, x, y);
    const state = optim.adamwInit(model);
    const [byNumber] = optim.adamwUpdate(model, grads, state, { lr: 0.01 });
    const [byTensor] = optim.adamwUpdate(model, grads, state, { lr: nb.tensor(0.01) });
    expect(values(byTensor)).toEqual(values(byNumber));
    expect(byTensor.parameters().every((p) => p.dtype === "float32")).toBe(true);
  });

  it("train/eval keeps stateful state", () => {
    const [x, y] = data();
    const switched = makeModel(13);
    const plain = makeModel(13);
    const a = new optim.AdamW(switched, { lr: 0.02 });
    const b = new optim.AdamW(plain, { lr: 0.02 });
    for (let i = 0; i < 3; i++) {
      switched.train();
      stepStateful(switched, a, x, y);
      switched.eval();
      stepStateful(plain, b, x, y);
    }
    expect(values(switched)).toEqual(values(plain));
    expect(Object.values(a.stateDict().state).map((s) => s.step)).toEqual([3, 3, 3, 3]);
  });

  it("train/eval keeps functional state", () => {
    const [x, y] = data();
    let model = makeModel(14);
    let state = optim.adamwInit(model);
    for (const mode of ["eval", "train", "eval"] as const) {
      model = mode === "eval" ? model.eval() : model.train();
      const [, grads] = nb.valueAndGrad(lossOf)(model, x, y);
      [model, state] = optim.adamwUpdate(model, grads, state, { lr: 0.01 });
      expect(model.training).toBe(mode === "train");
    }
    expect(Object.keys(state.m)).toEqual(["0.weight", "0.bias", "3.weight", "3.bias"]);
  });

  it("state dict round trip", () => {
    const [x, y] = data();
    const model = makeModel(15);
    const optimizer = new optim.AdamW(model, { lr: 0.02 });
    stepStateful(model, optimizer, x, y);
    const copy = makeModel(15);
    copy.loadStateDict(model.stateDict());
    const restored = new optim.AdamW(copy, { lr: 0.5 });
    restored.loadStateDict(optimizer.stateDict());
    expect(restored.lr).toBe(0.02);
    stepStateful(model, optimizer, x, y);
    stepStateful(copy, restored, x, y);
    expect(values(copy)).toEqual(values(model));
  });

  it("buffers are not updated", () => {
    class Scaled extends nn.Module {
      w = new nn.Parameter(nb.tensor([1, 2]));
      constructor() {
        super();
        this.registerBuffer("offset", nb.tensor([3, 4]));
      }
    }
    const m = new Scaled();
    const grads = nb.treeMap((leaf) => nb.onesLike(leaf), m);
    const [next] = optim.adamwUpdate(m, grads, optim.adamwInit(m), { lr: 0.1, weightDecay: 0.5 });
    expect(next.namedBuffers()[0][1].tolist()).toEqual([3, 4]);
    expect(next.namedParameters()[0][1].tolist()).not.toEqual([1, 2]);
  });
});

describe("SGD", () => {
  it("nesterov momentum by hand", () => {
    // f(w) = sum(w^2 / 2), so the gradient is w itself.
    const w = new nn.Parameter(nb.tensor([1, -2], { dtype: "float64" }));
    const optimizer = new optim.SGD([w], { lr: 0.1, momentum: 0.9, nesterov: true, weightDecay: 0.01 });
    let expected = [1, -2];
    let buffer: number[] | null = null;
    for (let i = 0; i < 3; i++) {
      w.grad = null;
      nb.mul(nb.square(w), 0.5).sum().backward();
      optimizer.step();
      const d = expected.map((v) => v + 0.01 * v);
      const b: number[] = buffer === null ? d : buffer.map((v, j) => 0.9 * v + d[j]);
      expected = expected.map((v, j) => v - 0.1 * (d[j] + 0.9 * b[j]));
      buffer = b;
      Array.from(w.toArray()).forEach((v, j) => expect(v).toBeCloseTo(expected[j], 12));
    }
  });

  it("functional matches stateful", () => {
    const [x, y] = data();
    const options = { lr: 0.1, momentum: 0.8, dampening: 0.1, weightDecay: 0.02 };
    const eager = makeModel(21);
    const optimizer = new optim.SGD(eager, options);
    let functional = makeModel(21);
    let state = optim.sgdInit(functional);
    for (let i = 0; i < 3; i++) {
      stepStateful(eager, optimizer, x, y);
      const [, grads] = nb.valueAndGrad(lossOf)(functional, x, y);
      [functional, state] = optim.sgdUpdate(functional, grads, state, options);
    }
    const a = values(eager);
    values(functional).forEach((row, i) => row.forEach((v, j) => expect(v).toBeCloseTo(a[i][j], 6)));
  });
});

describe("schedules", () => {
  it("values at known steps", () => {
    const warm = optim.linearWarmup({ peakLr: 1, warmupSteps: 4 });
    expect([0, 2, 4, 9].map((s) => warm(s))).toEqual([0, 0.5, 1, 1]);
    const cosine = optim.cosineDecay({ initLr: 2, decaySteps: 10, alpha: 0.1 });
    expect(cosine(5)).toBeCloseTo(2 * (0.9 * 0.5 + 0.1), 12);
    expect(cosine(20)).toBeCloseTo(0.2, 12);
    const steps = optim.stepDecay({ initLr: 1, stepSize: 3, gamma: 0.5 });
    expect([0, 2, 3, 7].map((s) => steps(s))).toEqual([1, 1, 0.5, 0.25]);
    const both = optim.warmupCosineDecay({ peakLr: 1, warmupSteps: 2, decaySteps: 6, endLr: 0.1 });
    expect([0, 1, 2, 4, 6, 8].map((s) => both(s))).toEqual([0, 0.5, 1, 0.1 + 0.9 * 0.5 * (1 + Math.cos(Math.PI / 2)), 0.1, 0.1].map((v) => expect.closeTo(v, 12)));
  });

  it("tensor steps match numbers", () => {
    const schedules = [
      optim.linearWarmup({ peakLr: 0.3, warmupSteps: 5, initLr: 0.01 }),
      optim.cosineDecay({ initLr: 0.7, decaySteps: 9 }),
      optim.stepDecay({ initLr: 0.9, stepSize: 4 }),
      optim.warmupCosineDecay({ peakLr: 0.5, warmupSteps: 3, decaySteps: 11 }),
    ];
    for (const schedule of schedules) {
      for (const step of [0, 1, 3, 7, 12]) {
        expect(schedule(nb.tensor(step, { dtype: "int32" })).item()).toBeCloseTo(schedule(step), 12);
      }
    }
  });
});

describe("gradient clipping", () => {
  it("clipGradNorm scales grads", () => {
    const a = new nn.Parameter(nb.tensor([3, 0]));
    const b = new nn.Parameter(nb.tensor([4]));
    nb.add(nb.mul(a, nb.tensor([3, 0])).sum(), nb.mul(b, 4).sum()).backward();
    const norm = optim.clipGradNorm([a, b], 1);
    expect(norm.item()).toBeCloseTo(5, 5);
    expect((a.grad as nb.Tensor).tolist()).toEqual([expect.closeTo(0.6, 5), 0]);
    expect((b.grad as nb.Tensor).tolist()).toEqual([expect.closeTo(0.8, 5)]);
  });

  it("clipByGlobalNorm leaves small grads", () => {
    const grads = { w: nb.tensor([0.3, -0.4]) };
    const [clipped, norm] = optim.clipByGlobalNorm(grads, 2);
    expect(norm.item()).toBeCloseTo(0.5, 6);
    expect(clipped.w.tolist()).toEqual([expect.closeTo(0.3, 6), expect.closeTo(-0.4, 6)]);
  });
});
