// compile on a mesh: arguments placed with nb.shard run partitioned on worker devices and give the
// single-device results; the cache separates meshes and specs.

import { afterAll, beforeAll, describe, expect, it } from "vitest";
import * as nb from "../../src/index.js";
import type { Tensor } from "../../src/core/tensor.js";
import { Rng } from "./spmd-support.js";

let mesh2: nb.DeviceMesh;
let mesh22: nb.DeviceMesh;

beforeAll(async () => {
  mesh2 = await nb.DeviceMesh.create([2], ["data"]);
  mesh22 = await nb.DeviceMesh.create([2, 2], ["data", "model"]);
}, 60_000);

afterAll(async () => {
  await Promise.all([mesh2.dispose(), mesh22.dispose()]);
});

function randomTensor(rng: Rng, shape: number[]): Tensor {
  const data = new Float32Array(shape.reduce((a, b) => a * b, 1)).map(() => rng.uniform(-1, 1));
  return nb.tensor(data).reshape(shape);
}

function mlpLoss(params: { w1: Tensor; b1: Tensor; w2: Tensor }, x: Tensor, y: Tensor): Tensor {
  const hidden = nb.tanh(nb.add(nb.matmul(x, params.w1), params.b1));
  const error = nb.sub(nb.matmul(hidden, params.w2), y);
  return nb.mean(nb.mul(error, error));
}

function sgdStep(params: { w1: Tensor; b1: Tensor; w2: Tensor }, x: Tensor, y: Tensor, lr: number) {
  const [loss, grads] = nb.valueAndGrad(mlpLoss)(params, x, y);
  const g = grads as typeof params;
  return { loss: loss as Tensor, params: { w1: nb.sub(params.w1, nb.mul(g.w1, lr)), b1: nb.sub(params.b1, nb.mul(g.b1, lr)), w2: nb.sub(params.w2, nb.mul(g.w2, lr)) } };
}

function expectNear(actual: Tensor, expected: Tensor, tolerance: number): void {
  const a = actual.toArray();
  const b = expected.toArray();
  expect(a.length).toBe(b.length);
  for (let i = 0; i < a.length; i++) expect(Math.abs(a[i] - b[i])).toBeLessThanOrEqual(tolerance * (1 + Math.abs(b[i])));
}

describe("compile on a mesh", () => {
  it("trains data-parallel with the single-device losses", () => {
    const rng = new Rng(5);
    let single = { w1: randomTensor(rng, [6, 9]), b1: randomTensor(rng, [9]), w2: randomTensor(rng, [9, 3]) };
    let sharded = single;
    const x = randomTensor(rng, [11, 6]);
    const y = randomTensor(rng, [11, 3]);
    const step = nb.compile(sgdStep);
    const xs = nb.shard(x, mesh2, nb.P("data"));
    const ys = nb.shard(y, mesh2, nb.P("data"));
    for (let i = 0; i < 5; i++) {
      const a = step(single, x, y, 0.1);
      const b = step(sharded, xs, ys, 0.1);
      expectNear(b.loss, a.loss, 1e-5);
      single = a.params;
      sharded = b.params;
    }
    expectNear(sharded.w1, single.w1, 1e-5);
    expect(step.stats.misses).toBe(2);
    expect(step.stats.hits).toBe(8);
    expect(nb.shardingOf(sharded.w1)?.spec.toString()).toBe("P(null, null)");
    expect(nb.shardingOf(sharded.w1)?.mesh).toBe(mesh2);
  });

  it("runs tensor-parallel and combined layouts on a [2, 2] mesh", () => {
    const rng = new Rng(8);
    const params = { w1: randomTensor(rng, [6, 10]), b1: randomTensor(rng, [10]), w2: randomTensor(rng, [10, 3]) };
    const x = randomTensor(rng, [7, 6]);
    const y = randomTensor(rng, [7, 3]);
    const reference = sgdStep(params, x, y, 0.05);
    const placed = {
      w1: nb.shard(params.w1, mesh22, nb.P(null, "model")),
      b1: nb.shard(params.b1, mesh22, nb.P("model")),
      w2: nb.shard(params.w2, mesh22, nb.P("model", null)),
    };
    const step = nb.compile(sgdStep);
    const out = step(placed, nb.shard(x, mesh22, nb.P("data")), nb.shard(y, mesh22, nb.P("data")), 0.05);
    expectNear(out.loss, reference.loss, 1e-5);
    expectNear(out.params.w1, reference.params.w1, 1e-5);
    expectNear(out.params.w2, reference.params.w2, 1e-5);
    expect(nb.shardingOf(out.params.w1)?.spec.toString()).toBe('P(null, "model")');
  });

  it("takes inShardings and outShardings from the options", () => {
    const rng = new Rng(9);
    const x = randomTensor(rng, [5, 4]);
    const f = nb.compile((a: Tensor) => nb.mul(nb.exp(a), 2), { mesh: mesh2, inShardings: [nb.P("data")], outShardings: nb.P(null, "data") });
    const out = f(x);
    expectNear(out, nb.mul(nb.exp(x), 2), 1e-6);
    expect(nb.shardingOf(out)?.spec.toString()).toBe('P(null, "data")');
    expect(f.cacheKeys()[0]).toContain('mesh[2](data)');
  });

  it("rejects arguments on different meshes with a typed error", () => {
    const a = nb.shard(nb.ones([4]), mesh2, nb.P("data"));
    const b = nb.shard(nb.ones([4]), mesh22, nb.P("data"));
    expect(() => nb.compile((p: Tensor, q: Tensor) => nb.add(p, q))(a, b)).toThrow(/same mesh/);
  });
});

describe("placement errors", () => {
  it("names the tensor, the spec and the fix", () => {
    const x = nb.ones([3, 4]);
    expect(() => nb.shard(x, mesh2, nb.P("data", null, null))).toThrow(/shard: tensor of shape \[3, 4\]: spec P\("data", null, null\) has 3 entries but the tensor has rank 2.*give at most one entry per dimension/);
    expect(() => nb.shard(x, mesh2, nb.P("model"))).toThrow(/names mesh axis "model", but the mesh has axes \[data\]; use one of those/);
    expect(() => nb.shard(x, mesh22, nb.P("data", "data"))).toThrow(/mesh axis "data" is used twice/);
    expect(() => nb.reshard(x, nb.P("data"))).toThrow(/is not on a mesh; place it with nb\.shard/);
    expect(() => nb.compile((a: Tensor) => a, { inShardings: [nb.P("data")] })(x)).toThrow(/inShardings needs the mesh/);
  });

  it("raises ShardingError", () => {
    expect(() => nb.shard(nb.ones([2]), mesh2, nb.P("nope"))).toThrow(nb.ShardingError);
  });
});

describe("sharding constraints and collectives in compiled steps", () => {
  it("withShardingConstraint changes the layout but not the result", () => {
    const rng = new Rng(21);
    const x = randomTensor(rng, [6, 5]);
    const w = randomTensor(rng, [5, 8]);
    const plain = nb.compile((a: Tensor, b: Tensor) => nb.tanh(nb.matmul(a, b)));
    const constrained = nb.compile((a: Tensor, b: Tensor) => nb.tanh(nb.withShardingConstraint(nb.matmul(a, b), nb.P(null, "data"))));
    const xs = nb.shard(x, mesh2, nb.P("data"));
    const expected = plain(x, w);
    const a = plain(xs, w);
    const b = constrained(xs, w);
    expectNear(a, expected, 1e-6);
    expectNear(b, expected, 1e-6);
    expect(nb.shardingOf(a)?.spec.toString()).toBe('P("data", null)');
    expect(nb.shardingOf(b)?.spec.toString()).toBe('P(null, "data")');
  });

  it("a data-parallel step with the update inside does one gradient all-reduce", () => {
    const rng = new Rng(22);
    const params = { w1: randomTensor(rng, [6, 9]), b1: randomTensor(rng, [9]), w2: randomTensor(rng, [9, 3]) };
    const x = nb.shard(randomTensor(rng, [10, 6]), mesh2, nb.P("data"));
    const y = nb.shard(randomTensor(rng, [10, 3]), mesh2, nb.P("data"));
    const step = nb.compile(sgdStep);
    step(params, x, y, 0.1);
    const [program] = step.spmdPrograms();
    expect(nb.countCollectives(program).allReduce).toBe(1);
    expect(nb.formatSpmdProgram(program)).toMatch(/allReduce/);
  });
});

describe("placement mistakes a new user makes", () => {
  it("names a forgotten await of DeviceMesh.create", () => {
    const pending = nb.DeviceMesh.create([2], ["data"]);
    expect(() => nb.shard(nb.ones([2]), pending as never, nb.P("data"))).toThrow(/the mesh is a Promise; await nb\.DeviceMesh\.create/);
    return pending.then((mesh) => mesh.dispose());
  }, 30_000);

  it("tells two meshes of the same shape apart", () => {
    const a = nb.shard(nb.ones([4]), mesh2, nb.P("data"));
    const other = new nb.DeviceMesh([2], ["data"]);
    const b = nb.shard(nb.ones([4]), other, nb.P("data"));
    expect(() => nb.compile((p: Tensor, q: Tensor) => nb.add(p, q))(a, b)).toThrow(new RegExp(`DeviceMesh #${other.id} .* DeviceMesh #${mesh2.id} `));
    return other.dispose();
  });

  it("rejects a spec entry that is not an axis name", () => {
    expect(() => nb.P(0 as never)).toThrow(/entry 0 is 0; each entry is a mesh axis name, an array of names, or null/);
  });

  it("feedForwardParallel also matches a bare encoder layer, and a failed shardModule places nothing", () => {
    const layer = new nb.nn.TransformerEncoderLayer(8, 2, { dimFeedforward: 16 });
    expect(() => nb.nn.shardModule(layer, mesh2, [["nope.*", nb.P("data")], ...nb.nn.feedForwardParallel("data")])).toThrow(/no parameter matches "nope\.\*"/);
    expect(layer.linear1.weight.sharding).toBeNull();
    nb.nn.shardModule(layer, mesh2, nb.nn.feedForwardParallel("data"));
    expect(nb.shardingOf(layer.linear1.weight)?.spec.toString()).toBe('P("data", null)');
    expect(nb.shardingOf(layer.linear2.weight)?.spec.toString()).toBe('P(null, "data")');
  });
});
