// A data-parallel MLP training step written with nb.shardMap (local loss, local gradients, pmean of the
// gradients) equals the same step on the whole batch without sharding.

import { describe, expect, it } from "vitest";
import * as nb from "../../src/index.js";
import type { Tensor } from "../../src/index.js";
import { expectClose } from "../support/finite-differences.js";
import { Rng } from "../support/random.js";

interface Params {
  readonly w1: Tensor;
  readonly b1: Tensor;
  readonly w2: Tensor;
  readonly b2: Tensor;
}

const [inputs, hidden, classes, batch] = [5, 7, 3, 24];
const learningRate = 0.5;

function uniform(rng: Rng, shape: number[], scale: number): Tensor {
  const count = shape.reduce((a, b) => a * b, 1);
  return nb.tensor(Float32Array.from({ length: count }, () => rng.uniform(-scale, scale)), { shape });
}

function initParams(rng: Rng): Params {
  return { w1: uniform(rng, [inputs, hidden], 0.8), b1: uniform(rng, [hidden], 0.1), w2: uniform(rng, [hidden, classes], 0.8), b2: uniform(rng, [classes], 0.1) };
}

function loss(params: Params, x: Tensor, y: Tensor): Tensor {
  const h = nb.relu(nb.add(nb.matmul(x, params.w1), params.b1));
  const logits = nb.add(nb.matmul(h, params.w2), params.b2);
  return nb.nn.functional.crossEntropyLoss(logits, y);
}

/** Returns params - learningRate * grads, leaf by leaf. */
function sgd(params: Params, grads: Params): Params {
  const g = nb.treeFlatten(grads).leaves;
  return nb.treeMap((p, i) => nb.sub(p, nb.mul(g[i], learningRate)), params) as Params;
}

function unshardedStep(params: Params, x: Tensor, y: Tensor): [Tensor, Params] {
  const [value, grads] = nb.valueAndGrad(loss)(params, x, y) as [Tensor, Params];
  return [value, sgd(params, grads)];
}

/** Builds the data-parallel step: every device computes the loss and gradients of its rows of the batch, and pmean averages them. */
function shardedStep(mesh: nb.MeshLayout): (params: Params, x: Tensor, y: Tensor) => [Tensor, Params] {
  const axes = [...mesh.axisNames];
  return nb.shardMap(
    (params: Params, x: Tensor, y: Tensor): [Tensor, Params] => {
      const [value, grads] = nb.valueAndGrad(loss)(params, x, y) as [Tensor, Params];
      const averaged = nb.treeMap((g) => nb.pmean(g, axes), grads) as Params;
      return [nb.pmean(value, axes), sgd(params, averaged)];
    },
    { mesh, inSpecs: [nb.P(), nb.P(axes), nb.P(axes)], outSpecs: nb.P() },
  );
}

function expectParamsClose(actual: Params, expected: Params, label: string): void {
  for (const key of ["w1", "b1", "w2", "b2"] as const) {
    expect(actual[key].shape, `${label} ${key} shape`).toEqual(expected[key].shape);
    expectClose(actual[key].toArray(), expected[key].toArray(), { rtol: 2e-5, atol: 2e-6 }, `${label} ${key}`);
  }
}

const meshes: readonly nb.MeshLayout[] = [
  { shape: [1], axisNames: ["data"] },
  { shape: [2], axisNames: ["data"] },
  { shape: [3], axisNames: ["data"] },
  { shape: [4], axisNames: ["data"] },
  { shape: [2, 2], axisNames: ["data", "replica"] },
  { shape: [8], axisNames: ["data"] },
];

describe("data-parallel MLP with shardMap", () => {
  it.each(meshes.map((mesh) => [`[${mesh.shape.join(", ")}]`, mesh] as const))("three steps on %s match unsharded", (_label, mesh) => {
    const rng = new Rng(2024);
    const x = uniform(rng, [batch, inputs], 1.5);
    const y = nb.tensor(Int32Array.from({ length: batch }, () => rng.int(0, classes)), { shape: [batch] });
    const step = shardedStep(mesh);
    let sharded = initParams(rng);
    let unsharded = sharded;
    for (let i = 0; i < 3; i++) {
      const [shardedLoss, nextSharded] = step(sharded, x, y);
      const [unshardedLoss, nextUnsharded] = unshardedStep(unsharded, x, y);
      expectClose([shardedLoss.item()], [unshardedLoss.item()], { rtol: 2e-5 }, `step ${i} loss`);
      expectParamsClose(nextSharded, nextUnsharded, `step ${i}`);
      [sharded, unsharded] = [nextSharded, nextUnsharded];
    }
  });

  it("training lowers the loss", () => {
    const rng = new Rng(99);
    const mesh = { shape: [4], axisNames: ["data"] };
    const x = uniform(rng, [batch, inputs], 1.5);
    const y = nb.tensor(Int32Array.from({ length: batch }, () => rng.int(0, classes)), { shape: [batch] });
    const step = shardedStep(mesh);
    let params = initParams(rng);
    const losses: number[] = [];
    for (let i = 0; i < 10; i++) {
      const [value, next] = step(params, x, y);
      losses.push(value.item());
      params = next;
    }
    expect(losses[9]).toBeLessThan(losses[0]);
  });
});
