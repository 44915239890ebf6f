import { describe, expect, test } from "vitest";
import * as nb from "../../src/index.js";
import { makeSyntheticTask, TransformerClassifier, type ClassifierConfig } from "../../examples/lib/transformer-classifier.js";
import { functionalStep, imperativeStep, learningRate } from "../../examples/lib/training.js";
import { LegacyRandomState } from "../../examples/lib/numpy-random.js";

const config: ClassifierConfig = { vocabSize: 20, dModel: 16, numHeads: 2, numLayers: 2, numClasses: 3, maxLen: 8, dimFeedforward: 24 };

function twinModels(): [TransformerClassifier, TransformerClassifier] {
  nb.random.seed(3);
  const a = new TransformerClassifier(config);
  const b = new TransformerClassifier(config);
  b.loadStateDict(a.stateDict());
  return [a, b];
}

describe("seed transformer example", () => {
  test("synthetic data matches NumPy's seeded draws", () => {
    const task = makeSyntheticTask(42, 150, 8, 20, 3);
    expect(task.firstTokens).toEqual([6, 19, 14, 10, 7, 6, 18, 10]);
    expect(task.tokens.tolist()).toHaveLength(150);
    expect((task.tokens.tolist() as number[][])[149]).toEqual([2, 2, 17, 4, 11, 11, 18, 5]);
    expect(task.labels.toArray().slice(0, 10)).toEqual(Int32Array.from([0, 1, 0, 2, 0, 2, 0, 2, 1, 2]));
  });

  test("legacy generator matches MT19937 reference output", () => {
    // First outputs of MT19937 seeded with 5489, the generator's documented default seed.
    const rng = new LegacyRandomState(5489);
    expect([rng.nextUint32(), rng.nextUint32(), rng.nextUint32()]).toEqual([3499211612, 581869302, 3890346734]);
  });

  test("both training styles give the same losses", () => {
    const task = makeSyntheticTask(42, 30, 8, 20, 3);
    const [imperativeModel, functionalModel] = twinModels();
    imperativeModel.eval();
    functionalModel.eval();
    const optimizer = new nb.nn.optim.AdamW(imperativeModel, { lr: learningRate });
    let model = functionalModel;
    let state = nb.nn.optim.adamwInit(model);

    for (let i = 0; i < 4; i++) {
      const imperativeLoss = imperativeStep(imperativeModel, optimizer, task.tokens, task.labelsOneHot).item();
      let loss: nb.Tensor;
      [model, state, loss] = functionalStep(model, state, task.tokens, task.labelsOneHot);
      expect(loss.item()).toBeCloseTo(imperativeLoss, 6);
    }
  });

  test("compiled step matches the eager step", () => {
    const task = makeSyntheticTask(42, 30, 8, 20, 3);
    const [a, b] = twinModels();
    a.eval();
    b.eval();
    const compiled = nb.compile(functionalStep);
    let [ma, sa] = [a, nb.nn.optim.adamwInit(a)];
    let [mb, sb] = [b, nb.nn.optim.adamwInit(b)];
    for (let i = 0; i < 3; i++) {
      let la: nb.Tensor;
      let lb: nb.Tensor;
      [ma, sa, la] = compiled(ma, sa, task.tokens, task.labelsOneHot);
      [mb, sb, lb] = functionalStep(mb, sb, task.tokens, task.labelsOneHot);
      expect(la.item()).toBe(lb.item());
    }
    expect(compiled.stats.misses).toBe(1);
    expect(compiled.stats.hits).toBe(2);
  });

  test("every layer in the plain array trains", () => {
    const task = makeSyntheticTask(42, 12, 8, 20, 3);
    nb.random.seed(5);
    const model = new TransformerClassifier(config);
    const before = model.layers.map((layer) => layer.linear1.weight.toArray());
    const optimizer = new nb.nn.optim.AdamW(model, { lr: 1e-2 });
    imperativeStep(model, optimizer, task.tokens, task.labelsOneHot);
    model.layers.forEach((layer, i) => {
      expect(Array.from(layer.linear1.weight.toArray())).not.toEqual(Array.from(before[i]));
    });
  });
});
