// Module: registration, names, state dicts, train/eval and modules as pytrees.

import { describe, expect, it } from "vitest";
import * as nb from "../../src/index.js";

const { nn } = nb;

/** Keeps its blocks in a plain array and also under per-layer fields, as the Transformer notebook does. */
class ArrayModel extends nn.Module {
  layers: nb.nn.Linear[] = [];
  head: nb.nn.Linear;
  scale = 0.5;

  constructor(width: number, depth: number) {
    super();
    for (let i = 0; i < depth; i++) {
      const layer = new nn.Linear(width, width);
      (this as unknown as Record<string, unknown>)[`block${i}`] = layer;
      this.layers.push(layer);
    }
    this.head = new nn.Linear(width, 2);
  }

  override forward(x: nb.Tensor): nb.Tensor {
    let h = x;
    for (const layer of this.layers) h = nb.tanh(layer.call(h));
    return this.head.call(nb.mul(h, this.scale));
  }
}

function snapshot(model: nb.nn.Module): Map<string, number[]> {
  return new Map(model.namedParameters().map(([name, p]) => [name, Array.from(p.toArray(), Number)]));
}

describe("Module registration", () => {
  it("array-held layers all train", () => {
    nb.random.seed(3);
    const model = new ArrayModel(5, 3);
    const before = snapshot(model);
    const optimizer = new nn.optim.AdamW(model, { lr: 1e-2 });
    const x = nb.random.normal([4, 5]);
    nn.functional.crossEntropyLoss(model.call(x), nb.tensor([0, 1, 1, 0], { dtype: "int32" })).backward();
    optimizer.step();
    const after = snapshot(model);
    expect([...before.keys()]).toEqual([
      "layers.0.weight", "layers.0.bias", "layers.1.weight", "layers.1.bias",
      "layers.2.weight", "layers.2.bias", "head.weight", "head.bias",
    ]);
    for (const [name, values] of before) {
      expect(after.get(name), `${name} changed`).not.toEqual(values);
    }
  });

  it("shared layers counted once", () => {
    const model = new ArrayModel(3, 2);
    expect(model.parameters()).toHaveLength(6);
    expect(model.numParameters()).toBe(2 * (9 + 3) + (6 + 2));
    expect(model.namedModules().map(([name]) => name)).toEqual(["", "layers.0", "layers.1", "head"]);
  });

  it("explicit registration and buffers", () => {
    class WithBuffer extends nn.Module {
      constructor() {
        super();
        this.registerParameter("w", nb.tensor([1, 2, 3]));
        this.registerBuffer("running", nb.tensor([4, 5]));
        this.registerBuffer("scratch", nb.tensor([6]), { persistent: false });
      }
    }
    const m = new WithBuffer();
    expect(m.namedParameters().map(([n]) => n)).toEqual(["w"]);
    expect(m.parameters()[0]).toBeInstanceOf(nn.Parameter);
    expect(m.namedBuffers().map(([n]) => n)).toEqual(["running", "scratch"]);
    expect(Object.keys(m.stateDict())).toEqual(["w", "running"]);
  });

  it("parameter handle survives a step", () => {
    nb.random.seed(1);
    const layer = new nn.Linear(3, 2);
    const weightHandle = layer.weight;
    const before = Array.from(weightHandle.toArray());
    const optimizer = new nn.optim.SGD(layer, { lr: 0.1 });
    layer.call(nb.random.normal([2, 3])).sum().backward();
    const returned = optimizer.step();
    expect(returned).toBe(layer);
    expect(layer.weight).toBe(weightHandle);
    expect(Array.from(weightHandle.toArray())).not.toEqual(before);
    expect(weightHandle.requiresGrad).toBe(true);
  });
});

describe("Module state dict", () => {
  it("round trip restores values", () => {
    nb.random.seed(5);
    const source = new nn.TransformerEncoderLayer(4, 2, { dimFeedforward: 6, dropout: 0 });
    const target = new nn.TransformerEncoderLayer(4, 2, { dimFeedforward: 6, dropout: 0 });
    target.loadStateDict(source.stateDict());
    expect(snapshot(target)).toEqual(snapshot(source));
    const x = nb.random.normal([1, 3, 4]);
    expect(Array.from(target.call(x).toArray())).toEqual(Array.from(source.call(x).toArray()));
  });

  it("strict load lists every problem", () => {
    const model = new nn.Linear(3, 2);
    const state = { ...model.stateDict(), extra: nb.zeros([1]) } as Record<string, nb.Tensor>;
    delete state.bias;
    state.weight = nb.zeros([2, 4]);
    expect(() => model.loadStateDict(state)).toThrowError(nb.ValueError);
    expect(() => model.loadStateDict(state)).toThrowError(
      "missing keys: bias | unexpected keys: extra | shape mismatches: weight: checkpoint [2, 4], model [2, 3]",
    );
  });

  it("non-strict load reports keys", () => {
    const model = new nn.Linear(3, 2);
    const result = model.loadStateDict({ weight: nb.ones([2, 3]), other: nb.ones([1]) }, { strict: false });
    expect(result).toEqual({ missingKeys: ["bias"], unexpectedKeys: ["other"] });
    expect(Array.from(model.weight.toArray())).toEqual([1, 1, 1, 1, 1, 1]);
  });
});

describe("Module modes and pytrees", () => {
  it("train and eval recurse", () => {
    const model = new nn.TransformerEncoder(() => new nn.TransformerEncoderLayer(4, 2, { dimFeedforward: 8 }), 2);
    model.eval();
    expect(model.modules().every((m) => !m.training)).toBe(true);
    model.train();
    expect(model.modules().every((m) => m.training)).toBe(true);
  });

  it("train flag is static structure", () => {
    const model = new nn.Sequential(new nn.Linear(2, 3), new nn.ReLU(), new nn.Dropout(0.25));
    const trained = nb.treedefToString(nb.treeFlatten(model).treedef);
    model.eval();
    const evaluated = nb.treeFlatten(model);
    expect(evaluated.leaves).toHaveLength(2);
    expect(trained).toContain("Sequential<train>");
    expect(nb.treedefToString(evaluated.treedef)).toContain("Dropout<eval>{p=0.25}");
  });

  it("unflatten builds the same class", () => {
    nb.random.seed(2);
    const model = new ArrayModel(3, 2);
    const doubled = nb.treeMap((leaf) => nb.mul(leaf, 2), model) as ArrayModel;
    expect(doubled).toBeInstanceOf(ArrayModel);
    expect(doubled).not.toBe(model);
    expect(doubled.scale).toBe(0.5);
    expect(doubled.layers[0]).toBe((doubled as unknown as Record<string, unknown>).block0);
    expect(Array.from(doubled.head.weight.toArray())).toEqual(Array.from(model.head.weight.toArray(), (v) => v * 2));
    expect(doubled.namedParameters().map(([n]) => n)).toEqual(model.namedParameters().map(([n]) => n));
  });

  it("valueAndGrad returns a module of grads", () => {
    nb.random.seed(4);
    const model = new ArrayModel(3, 1);
    const x = nb.random.normal([2, 3]);
    const [, grads] = nb.valueAndGrad((m: ArrayModel) => m.call(x).square().sum())(model);
    expect(grads).toBeInstanceOf(ArrayModel);
    const g = grads as ArrayModel;
    expect(g.head.bias?.shape).toEqual([2]);
    model.head.call(nb.tanh(model.layers[0].call(x)).mul(0.5)).square().sum().backward();
    expect(Array.from(g.head.weight.toArray())).toEqual(Array.from((model.head.weight.grad as nb.Tensor).toArray()));
  });

  it("call runs forward", () => {
    const relu = new nn.ReLU();
    expect(relu.call(nb.tensor([-1, 2])).tolist()).toEqual([0, 2]);
    expect(() => new nn.Module().call()).toThrowError(nb.NotSupportedError);
  });
});
