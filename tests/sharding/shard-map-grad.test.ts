// Gradients through every collective inside nb.shardMap, on every test mesh and along every axis, against
// finite differences of the global function. Second derivatives and data-parallel gradients follow.

import { describe, expect, it } from "vitest";
import * as nb from "../../src/index.js";
import type { Tensor } from "../../src/index.js";
import { checkGradients, expectClose } from "../support/finite-differences.js";
import { randn, Rng } from "../support/random.js";
import { meshes } from "./spmd-support.js";
import { checkShardMapGradients, collectiveGradCases, type ShardMapGradOptions, type TestMesh } from "../support/shard-map-gradcheck.js";


const layouts: readonly ShardMapGradOptions[] = [
  { x: "split", u: "split", directions: 3 },
  { x: "split", u: "replicated", directions: 3 },
  { x: "replicated", u: "split", directions: 3 },
];

const describeLayout = (o: ShardMapGradOptions): string => `x ${o.x}, u ${o.u}`;

describe.each(meshes.map((mesh) => [`[${mesh.shape.join(", ")}]`, mesh] as const))("shardMap gradients on mesh %s", (_label, mesh) => {
  const names = Object.keys(collectiveGradCases) as (keyof typeof collectiveGradCases)[];
  for (const axis of mesh.axisNames) {
    const size = mesh.shape[mesh.axisNames.indexOf(axis)];
    for (const [n, name] of names.entries()) {
      for (const [l, layout] of layouts.entries()) {
        it(`${name} along ${axis}, ${describeLayout(layout)}`, () => {
          const { apply, localShape } = collectiveGradCases[name];
          checkShardMapGradients(mesh, (x) => apply(x, axis, size), localShape(size), new Rng(31 * n + 7 * l + size), layout);
        });
      }
    }
  }

  if (mesh.axisNames.length > 1) {
    const every = [...mesh.axisNames];
    const reductions = {
      psum: (x: Tensor) => nb.psum(x, every),
      pmean: (x: Tensor) => nb.pmean(x, every),
      pmax: (x: Tensor) => nb.pmax(x, every),
    };
    for (const [name, apply] of Object.entries(reductions)) {
      it(`${name} over every axis`, () => checkShardMapGradients(mesh, apply, [3, 5], new Rng(name.length), layouts[0]));
    }
  }
});

describe("shardMap gradients", () => {
  const mesh = { shape: [2, 2], axisNames: ["x", "y"] };

  it("collectives chain through one body", () => {
    const apply = (x: Tensor): Tensor => {
      // [4, 3] gathered to [8, 3], exchanged to [4, 6], scattered back to [4, 3].
      const gathered = nb.allGather(nb.tanh(x), "x", { dim: 0, tiled: true });
      const scale = nb.allGather(nb.pmean(x, "y"), "x", { dim: 0, tiled: true });
      const mixed = nb.allToAll(nb.mul(gathered, scale), "y", { splitDim: 0, concatDim: 1 });
      return nb.ppermute(nb.psumScatter(mixed, "x", { dim: 1, tiled: true }), "y", [[0, 1], [1, 0]]);
    };
    checkShardMapGradients(mesh, apply, [4, 3], new Rng(12), { x: "split", u: "split" });
  });

  it("pmax splits ties evenly", () => {
    // Every device has the same x, so all four devices attain the max and each gets 1/4 of the cotangent.
    const x = nb.tensor(Float64Array.from([0.5, -1.5, 2]), { shape: [3] });
    const g = nb.shardMap((local: Tensor) => nb.grad((y: Tensor) => nb.sum(nb.pmax(y, ["x", "y"])))(local) as Tensor, {
      mesh,
      inSpecs: nb.P(),
      outSpecs: nb.P(["x", "y"]),
    })(x);
    expectClose(g.toArray(), new Array<number>(12).fill(0.25), {}, "tie weights");
  });

  it("second derivative through psum and allGather", () => {
    // allGather over y puts each element on both devices of y, so f(x) = 2 sum(x^3) over the global x,
    // and its Hessian-vector product along v is 12 x v per element.
    const rng = new Rng(4);
    const x = nb.tensor(Float64Array.from({ length: 12 }, () => rng.uniform(-2, 2)), { shape: [12] });
    const v = nb.tensor(Float64Array.from({ length: 12 }, () => rng.uniform(-2, 2)), { shape: [12] });
    const f = (local: Tensor): Tensor => nb.psum(nb.sum(nb.pow(nb.allGather(local, "y", { tiled: true }), 3)), ["x", "y"]);
    const hvp = nb.shardMap((local: Tensor, direction: Tensor) => {
      const [, tangent] = nb.jvp((y: Tensor) => nb.grad(f)(y) as Tensor, [local], [direction]);
      return tangent;
    }, { mesh, inSpecs: nb.P(["x", "y"]), outSpecs: nb.P(["x", "y"]) })(x, v);
    const xs = x.toArray();
    const vs = v.toArray();
    expectClose(hvp.toArray(), Array.from(xs, (xi, i) => 12 * xi * vs[i]), { rtol: 1e-10 }, "hvp");
  });

  it("replicated parameters get the local gradient", () => {
    // Each device's loss covers its own rows of the batch, and pmean of the gradients is the full-batch gradient.
    const rng = new Rng(8);
    const w = nb.tensor(Float64Array.from({ length: 3 }, () => rng.uniform(-1, 1)), { shape: [3] });
    const batch = nb.tensor(Float64Array.from({ length: 24 }, () => rng.uniform(-1, 1)), { shape: [8, 3] });
    const loss = (p: Tensor, b: Tensor): Tensor => nb.mean(nb.square(nb.matmul(b, p)));
    const local = nb.shardMap((p: Tensor, b: Tensor) => nb.grad(loss)(p, b) as Tensor, { mesh, inSpecs: [nb.P(), nb.P(["x", "y"])], outSpecs: nb.P(["x", "y"]) })(w, batch);
    const averaged = nb.shardMap((p: Tensor, b: Tensor) => nb.pmean(nb.grad(loss)(p, b) as Tensor, ["x", "y"]), { mesh, inSpecs: [nb.P(), nb.P(["x", "y"])], outSpecs: nb.P() })(w, batch);
    const rows = batch.toArray();
    for (let d = 0; d < 4; d++) {
      const own = nb.tensor(rows.slice(d * 6, d * 6 + 6), { shape: [2, 3] });
      expectClose(local.toArray().slice(d * 3, d * 3 + 3), (nb.grad(loss)(w, own) as Tensor).toArray(), { rtol: 1e-12 }, `device ${d}`);
    }
    expectClose(averaged.toArray(), (nb.grad(loss)(w, batch) as Tensor).toArray(), { rtol: 1e-12 }, "full batch");
  });
});

it("shardMap gradient keeps the input shape", () => {
  const mesh = { shape: [2], axisNames: ["x"] };
  const x = nb.ones([4, 3], { dtype: "float64" });
  const g = nb.shardMap((local: Tensor) => nb.grad((y: Tensor) => nb.psum(nb.sum(y), "x"))(local) as Tensor, { mesh, inSpecs: nb.P("x"), outSpecs: nb.P("x") })(x);
  expect(g.shape).toEqual([4, 3]);
});

describe("gradients of a shardMap call from outside", () => {
  const outsideMeshes: readonly TestMesh[] = [meshes[2], meshes[4]];
  const names = Object.keys(collectiveGradCases) as (keyof typeof collectiveGradCases)[];

  for (const mesh of outsideMeshes) {
    const axis = mesh.axisNames[mesh.axisNames.length - 1];
    const size = mesh.shape[mesh.shape.length - 1];
    const every = nb.P([...mesh.axisNames]);
    for (const [n, name] of names.entries()) {
      for (const layout of ["split", "replicated"] as const) {
        it(`${name} on [${mesh.shape.join(", ")}] with x ${layout}`, () => {
          const { apply, localShape } = collectiveGradCases[name];
          const local = localShape(size);
          const devices = mesh.shape.reduce((a, b) => a * b, 1);
          const shape = layout === "split" ? [local[0] * devices, ...local.slice(1)] : local;
          const call = nb.shardMap((x: Tensor) => apply(x, axis, size), { mesh, inSpecs: layout === "split" ? every : nb.P(), outSpecs: every });
          const rng = new Rng(97 * n + shape[0]);
          checkGradients((x) => nb.tanh(call(x)), [randn(rng, shape)], rng);
        });
      }
    }
  }

  it("flows into several arguments and pytree outputs", () => {
    const mesh = { shape: [2, 2], axisNames: ["x", "y"] };
    const call = nb.shardMap((p: { w: Tensor; scale: number }, batch: Tensor, labels: Tensor) => {
      const scores = nb.mul(nb.matmul(batch, p.w), p.scale);
      const picked = nb.gather(scores, labels, 1);
      return { total: nb.psum(nb.sum(picked), ["x", "y"]), scores };
    }, { mesh, inSpecs: [nb.P(), nb.P(["x", "y"]), nb.P(["x", "y"])], outSpecs: { total: nb.P(), scores: nb.P(["x", "y"]) } });
    const rng = new Rng(21);
    const labels = nb.tensor(Int32Array.from({ length: 8 }, () => rng.int(0, 3)), { shape: [8] });
    const f = (w: Tensor, batch: Tensor): Tensor => {
      const out = call({ w, scale: 1.5 }, batch, labels);
      return nb.add(nb.mul(out.total, 0.5), nb.sum(nb.square(out.scores)));
    };
    checkGradients(f, [randn(rng, [5, 3]), randn(rng, [8, 5])], rng);
  });

  it("fills .grad through backward", () => {
    const mesh = { shape: [4], axisNames: ["data"] };
    const rng = new Rng(5);
    const w = nb.tensor(randn(rng, [3]).toArray(), { shape: [3], requiresGrad: true });
    const batch = randn(rng, [8, 3]);
    const mse = nb.shardMap((p: Tensor, b: Tensor) => nb.pmean(nb.mean(nb.square(nb.matmul(b, p))), "data"), { mesh, inSpecs: [nb.P(), nb.P("data")], outSpecs: nb.P() });
    mse(w, batch).backward();
    const expected = nb.grad((p: Tensor) => nb.mean(nb.square(nb.matmul(batch, p))))(w) as Tensor;
    expect(w.grad).not.toBeNull();
    expectClose((w.grad as Tensor).toArray(), expected.toArray(), { rtol: 1e-12 }, "w.grad");
  });

  it("records nothing under noGrad", () => {
    const mesh = { shape: [2], axisNames: ["x"] };
    const w = nb.tensor([1, 2, 3], { requiresGrad: true });
    const out = nb.noGrad(() => nb.shardMap((p: Tensor) => nb.mul(p, 2), { mesh, inSpecs: nb.P(), outSpecs: nb.P() })(w));
    expect(out.requiresGrad).toBe(false);
  });
});
