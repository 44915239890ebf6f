// Transformer training, PyTorch style: loss.backward() and a stateful AdamW, then the same step compiled.
// Ports the seed notebook: 150 sequences of 8 tokens over a vocabulary of 20, label = sum mod 3.

import * as nb from "nabla-ts";
import {
  accuracy, cell, formatPercent, makeSyntheticTask, printSummary, seedConfig as config, TransformerClassifier,
} from "./lib/transformer-classifier.js";
import { elapsedMs, functionalStep, imperativeStep, learningRate } from "./lib/training.js";
import { runCompiledComparison } from "./lib/compiled-run.js";

const numSamples = 150;
const numSteps = 60;

console.log("nabla-ts Transformer training, PyTorch style");
nb.random.seed(0);

const task = makeSyntheticTask(42, numSamples, config.maxLen, config.vocabSize, config.numClasses);
const model = new TransformerClassifier(config);
printSummary(config, task, model);

// The optimizer keys its state by parameter name, so train()/eval() switches never invalidate it.
model.train();
const optimizer = new nb.nn.optim.AdamW(model, { lr: learningRate });
console.log(`Optimizer: AdamW (lr=${optimizer.lr})`);

console.log(`\n${cell("Epoch", 8)} ${cell("Loss", 12)} ${cell("Accuracy", 10)}`);
console.log("-".repeat(32));
const start = performance.now();
for (let epoch = 0; epoch < numSteps; epoch++) {
  const loss = imperativeStep(model, optimizer, task.tokens, task.labelsOneHot);
  if ((epoch + 1) % 10 === 0) {
    model.eval();
    const acc = accuracy(nb.noGrad(() => model.call(task.tokens)), task.labels);
    console.log(`${cell(epoch + 1, 8)} ${cell(loss.item().toFixed(4), 12)} ${cell(formatPercent(acc), 10)}`);
  }
}
const eagerMs = elapsedMs(start);
console.log(`\nEager PyTorch-style training time: ${(eagerMs / 1000).toFixed(4)} s (with an evaluation every 10 steps)`);
console.log(`Eager PyTorch-style avg step:     ${(eagerMs / numSteps).toFixed(3)} ms/step (the same, first step included)`);

runCompiledComparison({ config, task, numSteps, step: functionalStep });
