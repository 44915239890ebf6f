// The compiled half of both examples: a functional step under nb.compile against the same step run eagerly.

import * as nb from "nabla-ts";
import { cell, type ClassifierConfig, type SyntheticTask, TransformerClassifier } from "./transformer-classifier.js";
import { elapsedMs, type functionalStep } from "./training.js";

interface CompiledRunOptions {
  readonly config: ClassifierConfig;
  readonly task: SyntheticTask;
  readonly numSteps: number;
  readonly step: typeof functionalStep;
}

/** Returns a fresh model and AdamW state, in eval mode first so that every compiled step uses one train/eval flag. */
function freshState(config: ClassifierConfig): [TransformerClassifier, nb.nn.optim.AdamState] {
  const model = new TransformerClassifier(config);
  model.eval();
  return [model, nb.nn.optim.adamwInit(model)];
}

/** Trains with the compiled step, then times the same step eagerly, and prints the summary. */
export function runCompiledComparison({ config, task, numSteps, step }: CompiledRunOptions): void {
  const compiledStep = nb.compile(step);
  let [model, optState] = freshState(config);
  let loss: nb.Tensor;

  console.log("\nCompiled training (functional API inside nb.compile, on a freshly initialised model):");
  console.log(`${cell("Step", 8)} ${cell("Loss", 12)}`);
  console.log("-".repeat(22));

  const compileStart = performance.now();
  [model, optState, loss] = compiledStep(model, optState, task.tokens, task.labelsOneHot);
  loss.item();
  const firstMs = elapsedMs(compileStart);

  const cachedStart = performance.now();
  for (let i = 1; i < numSteps; i++) {
    [model, optState, loss] = compiledStep(model, optState, task.tokens, task.labelsOneHot);
    if ((i + 1) % 10 === 0) console.log(`${cell(i + 1, 8)} ${cell(loss.item().toFixed(4), 12)}`);
  }
  const cachedMs = elapsedMs(cachedStart) / Math.max(1, numSteps - 1);

  console.log(`\nCompiled cache stats: ${compiledStep.stats}`);
  console.log(`First compiled call (trace+compile): ${firstMs.toFixed(2)} ms`);
  console.log(`Cached compiled step avg:          ${cachedMs.toFixed(2)} ms`);

  let [eagerModel, eagerState] = freshState(config);
  [eagerModel, eagerState] = step(eagerModel, eagerState, task.tokens, task.labelsOneHot);
  const eagerStart = performance.now();
  for (let i = 1; i < numSteps; i++) {
    [eagerModel, eagerState, loss] = step(eagerModel, eagerState, task.tokens, task.labelsOneHot);
    loss.item();
  }
  const eagerMs = elapsedMs(eagerStart) / Math.max(1, numSteps - 1);

  console.log(`Eager functional step avg:         ${eagerMs.toFixed(2)} ms`);
  console.log(`Compiled cached speedup vs eager:  ${(eagerMs / Math.max(cachedMs, 1e-9)).toFixed(2)}x`);
}
