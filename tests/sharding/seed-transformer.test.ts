// The seed notebook's Transformer trained for 20 compiled steps on meshes: data-parallel on [2],
// tensor-parallel on [2] (feed-forward blocks, then attention heads too), and both on [2, 2], each
// against single-device losses.

import { afterAll, beforeAll, describe, expect, it } from "vitest";
import * as nb from "../../src/index.js";
import { functionalStep } from "../../examples/lib/training.js";
import { makeSyntheticTask, seedConfig, TransformerClassifier } from "../../examples/lib/transformer-classifier.js";

const steps = 20;
const task = makeSyntheticTask(42, 64, seedConfig.maxLen, seedConfig.vocabSize, seedConfig.numClasses);
let dataMesh: nb.DeviceMesh;
let modelMesh: nb.DeviceMesh;
let gridMesh: nb.DeviceMesh;

beforeAll(async () => {
  dataMesh = await nb.DeviceMesh.create([2], ["data"]);
  modelMesh = await nb.DeviceMesh.create([2], ["model"]);
  gridMesh = await nb.DeviceMesh.create([2, 2], ["data", "model"]);
}, 60_000);

afterAll(async () => {
  await Promise.all([dataMesh.dispose(), modelMesh.dispose(), gridMesh.dispose()]);
});

function freshModel(): TransformerClassifier {
  nb.random.seed(0);
  const model = new TransformerClassifier(seedConfig);
  model.eval();
  return model;
}

/** Losses of `steps` compiled steps; `place` puts the model and batch on a mesh (or leaves them). */
let lastModel: TransformerClassifier | undefined;
let lastPrograms: nb.SpmdProgram[] = [];
let lastMisses = 0;

function train(place: (model: TransformerClassifier, tokens: nb.Tensor, labels: nb.Tensor) => [TransformerClassifier, nb.Tensor, nb.Tensor]): number[] {
  const step = nb.compile(functionalStep);
  let [model, tokens, labels] = place(freshModel(), task.tokens, task.labelsOneHot);
  let state = nb.nn.optim.adamwInit(model);
  const losses: number[] = [];
  for (let i = 0; i < steps; i++) {
    let loss: nb.Tensor;
    [model, state, loss] = step(model, state, tokens, labels);
    losses.push(loss.item());
  }
  lastModel = model;
  lastPrograms = step.spmdPrograms();
  lastMisses = step.stats.misses;
  return losses;
}

const reference = train((model, tokens, labels) => [model, tokens, labels]);

function expectSameLosses(losses: readonly number[]): void {
  expect(losses).toHaveLength(steps);
  losses.forEach((loss, i) => expect(Math.abs(loss - reference[i]), `step ${i}: ${loss} vs ${reference[i]}`).toBeLessThanOrEqual(1e-5 * Math.abs(reference[i])));
}

describe("seed Transformer on a mesh", () => {
  it("data-parallel on [2] gives the single-device losses", () => {
    expectSameLosses(train((model, tokens, labels) => [model, nb.shard(tokens, dataMesh, nb.P("data")), nb.shard(labels, dataMesh, nb.P("data"))]));
    expect(reference[steps - 1]).toBeLessThan(reference[0]);
  });

  it("tensor-parallel feed-forward blocks on [2] give the single-device losses", () => {
    expectSameLosses(train((model, tokens, labels) => [nb.nn.shardModule(model, modelMesh, nb.nn.feedForwardParallel("model")), tokens, labels]));
    const weights = new Map(lastModel?.namedParameters());
    expect(nb.shardingOf(weights.get("layers.0.linear1.weight") as nb.Tensor)?.spec.toString()).toBe('P("model", null)');
    expect(nb.shardingOf(weights.get("layers.1.linear2.weight") as nb.Tensor)?.spec.toString()).toBe('P(null, "model")');
  });

  it("Megatron attention heads and feed-forward blocks on [2] give the single-device losses", () => {
    expectSameLosses(train((model, tokens, labels) => [nb.nn.tensorParallel(model, modelMesh, "model"), tokens, labels]));
    // adamwInit places each moment like its parameter, so every step reuses the first trace.
    expect(lastMisses).toBe(1);
    // Only weight-sized gradients of the packed q/k/v projection are gathered; activations stay split by heads.
    const gathers = lastPrograms.flatMap((program) => program.devices[0].steps.filter((step) => step.kind === "allGather"));
    expect(gathers.length).toBeGreaterThan(0);
    for (const step of gathers) expect(step.kind === "allGather" && step.out.shape.every((n) => n === seedConfig.dModel)).toBe(true);
  });

  it("data- and tensor-parallel on [2, 2] give the single-device losses", () => {
    expectSameLosses(
      train((model, tokens, labels) => [
        nb.nn.tensorParallel(model, gridMesh, "model"),
        nb.shard(tokens, gridMesh, nb.P("data")),
        nb.shard(labels, gridMesh, nb.P("data")),
      ]),
    );
  });

  it("shardModule names the fix when a pattern matches nothing", () => {
    expect(() => nb.nn.shardModule(freshModel(), dataMesh, [["layers.*.missing", nb.P("data")]])).toThrow(/no parameter matches "layers\.\*\.missing"; parameter names look like/);
  });
});
