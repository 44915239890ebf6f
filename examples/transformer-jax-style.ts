// Transformer training, JAX style: valueAndGrad and the functional adamwUpdate, eagerly and compiled.
// Same task and model as the PyTorch-style example; the model is a pytree whose leaves are its parameters.

import * as nb from "nabla-ts";
import { runCompiledComparison } from "./lib/compiled-run.js";
import {
  accuracy, cell, formatPercent, makeSyntheticTask, printSummary, seedConfig as config, TransformerClassifier,
} from "./lib/transformer-classifier.js";
import { elapsedMs, functionalStep } from "./lib/training.js";

const numSamples = 150;
const numSteps = 60;

console.log("nabla-ts Transformer training, JAX style");
nb.random.seed(0);

const task = makeSyntheticTask(42, numSamples, config.maxLen, config.vocabSize, config.numClasses);
// eval() before adamwInit, so every step uses the same train/eval flag in the model's structure.
let model = new TransformerClassifier(config);
model.eval();
let optState = nb.nn.optim.adamwInit(model);
printSummary(config, task, model);

console.log(`\n${cell("Step", 8)} ${cell("Loss", 12)} ${cell("Accuracy", 10)}`);
console.log("-".repeat(32));
const start = performance.now();
for (let step = 0; step < numSteps; step++) {
  let loss: nb.Tensor;
  [model, optState, loss] = functionalStep(model, optState, task.tokens, task.labelsOneHot);
  if ((step + 1) % 10 === 0) {
    const acc = accuracy(model.call(task.tokens), task.labels);
    console.log(`${cell(step + 1, 8)} ${cell(loss.item().toFixed(4), 12)} ${cell(formatPercent(acc), 10)}`);
  }
}
const eagerMs = elapsedMs(start);
console.log(`\nEager JAX-style training time: ${(eagerMs / 1000).toFixed(4)} s (with an evaluation every 10 steps)`);
console.log(`Eager JAX-style avg step:     ${(eagerMs / numSteps).toFixed(3)} ms/step (the same, first step included)`);

runCompiledComparison({ config, task, numSteps, step: functionalStep });
