// Gradients through every collective inside nb.shardMap, on every test mesh and along every axis, against
// finite differences of the global function. Second derivatives and data-parallel gradients follow.

import { describe, expect, it } from "vitest";
import * as nb from "../../src/index.js";
import type { Tensor } from "../../src/index.js";
import { expectClose } from "../support/finite-differences.js";
import { Rng } from "../support/random.js";
import { checkShardMapGradients, collectiveGradCases, type ShardMapGradOptions, type TestMesh } from "../support/shard-map-gradcheck.js";

const meshes: readonly TestMesh[] = [
  { shape: [1], axisNames: ["x"] },
  { shape: [2], axisNames: ["x"] },
  { shape: [3], axisNames: ["x"] },
  { shape: [4], axisNames: ["x"] },
  { shape: [2, 2], axisNames: ["x", "y"] },
  { shape: [8], axisNames: ["x"] },
];

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
