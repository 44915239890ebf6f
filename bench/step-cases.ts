// The training steps that bench/versus-pytorch.ts measures, mirrored by bench/pytorch_steps.py: the
// seed Transformer, a larger Transformer and a 784-1024-1024-10 MLP, each compiled JAX-style.

import * as nb from "nabla-ts";
import { makeSyntheticTask, TransformerClassifier, type ClassifierConfig } from "../examples/lib/transformer-classifier.js";
import { functionalStep } from "../examples/lib/training.js";
import type { BenchLayout } from "./mesh-layouts.js";

export interface StepCase {
  readonly name: string;
  /** The model name that bench/pytorch_steps.py takes. */
  readonly torchName: string;
  readonly examplesPerStep: number;
  /** Timed steps per round, after two warm-up steps. */
  readonly steps: number;
  /** Builds the compiled step on `layout` and returns a function that runs one step and reads its loss. */
  readonly setup: (layout: BenchLayout) => () => number;
}

function transformerCase(name: string, torchName: string, config: ClassifierConfig, batch: number, steps: number): StepCase {
  return {
    name, torchName, steps, examplesPerStep: batch,
    setup: (layout) => {
      nb.random.seed(0);
      const task = makeSyntheticTask(42, batch, config.maxLen, config.vocabSize, config.numClasses);
      const tokens = layout.place(task.tokens);
      const labels = layout.place(task.labelsOneHot);
      let model = new TransformerClassifier(config);
      model.eval();
      let state = nb.nn.optim.adamwInit(model);
      const step = nb.compile(functionalStep);
      return () => {
        let loss: nb.Tensor;
        [model, state, loss] = step(model, state, tokens, labels);
        return loss.item();
      };
    },
  };
}

class Mlp extends nb.nn.Module {
  first = new nb.nn.Linear(784, 1024);
  second = new nb.nn.Linear(1024, 1024);
  third = new nb.nn.Linear(1024, 10);
  override forward(x: nb.Tensor): nb.Tensor {
    return this.third.call(nb.relu(this.second.call(nb.relu(this.first.call(x)))));
  }
}

function mlpLoss(model: Mlp, x: nb.Tensor, y: nb.Tensor): nb.Tensor {
  return nb.nn.functional.crossEntropyLoss(model.call(x), y);
}

function mlpCase(steps: number): StepCase {
  return {
    name: "MLP 784-1024-1024-10, batch 256", torchName: "mlp", examplesPerStep: 256, steps,
    setup: (layout) => {
      nb.random.seed(0);
      const x = layout.place(nb.random.normal([256, 784]));
      const y = layout.place(nb.random.randint([256], 0, 10));
      let model = new Mlp();
      let state = nb.nn.optim.sgdInit(model);
      const step = nb.compile((m: Mlp, s: nb.nn.optim.SgdState, xs: nb.Tensor, ys: nb.Tensor) => {
        const [loss, grads] = nb.valueAndGrad(mlpLoss, { argnums: 0 })(m, xs, ys) as [nb.Tensor, Mlp];
        const [next, nextState] = nb.nn.optim.sgdUpdate(m, grads, s, { lr: 0.05 });
        return [next, nextState, loss] as const;
      });
      return () => {
        let loss: nb.Tensor;
        [model, state, loss] = step(model, state, x, y);
        return loss.item();
      };
    },
  };
}

const seedConfig: ClassifierConfig = { vocabSize: 20, dModel: 32, numHeads: 4, numLayers: 2, numClasses: 3, maxLen: 8, dimFeedforward: 64 };
const largeConfig: ClassifierConfig = { vocabSize: 1000, dModel: 256, numHeads: 8, numLayers: 4, numClasses: 2, maxLen: 64, dimFeedforward: 1024 };

/** Returns the three benchmarks; `quick` times fewer steps. */
export function stepCases(quick: boolean): StepCase[] {
  return [
    transformerCase("seed Transformer (d_model 32, batch 150, seq 8)", "seed", seedConfig, 150, quick ? 10 : 30),
    transformerCase("large Transformer (d_model 256, batch 64, seq 64)", "large", largeConfig, 64, quick ? 2 : 5),
    mlpCase(quick ? 5 : 10),
  ];
}

/** Returns one short benchmark for CI, the seed Transformer at 3 timed steps, which only checks that the steps run. */
export function smokeCases(): StepCase[] {
  return [transformerCase("seed Transformer (d_model 32, batch 150, seq 8)", "seed", seedConfig, 150, 3)];
}
