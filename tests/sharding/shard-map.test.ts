// nb.shardMap collectives on every test mesh and along every axis, against values computed by hand from
// each device's block of the input.

import { afterAll, beforeAll, describe, expect, it } from "vitest";
import * as nb from "../../src/index.js";
import type { Tensor } from "../../src/index.js";
import { expectClose } from "../support/finite-differences.js";
import { Rng } from "../support/random.js";
import { meshes, type TestMesh } from "./spmd-support.js";


/** A row-major block of numbers. */
interface Block {
  readonly shape: readonly number[];
  readonly data: readonly number[];
}

const deviceCount = (mesh: TestMesh): number => mesh.shape.reduce((a, b) => a * b, 1);

function coordinates(mesh: TestMesh, device: number): number[] {
  const out: number[] = [];
  let rest = device;
  for (let axis = mesh.shape.length - 1; axis >= 0; axis--) {
    out[axis] = rest % mesh.shape[axis];
    rest = Math.floor(rest / mesh.shape[axis]);
  }
  return out;
}

/** Returns the devices that share `device`'s coordinates off `axes`, ordered row-major over `axes`, and its rank among them. */
function groupOf(mesh: TestMesh, device: number, axes: readonly string[]): { members: number[]; rank: number } {
  const own = coordinates(mesh, device);
  const members: number[] = [];
  for (let d = 0; d < deviceCount(mesh); d++) {
    const c = coordinates(mesh, d);
    if (c.every((v, axis) => axes.includes(mesh.axisNames[axis]) || v === own[axis])) members.push(d);
  }
  const rankKey = (d: number): number => axes.reduce((key, name) => key * mesh.shape[mesh.axisNames.indexOf(name)] + coordinates(mesh, d)[mesh.axisNames.indexOf(name)], 0);
  members.sort((a, b) => rankKey(a) - rankKey(b));
  return { members, rank: members.indexOf(device) };
}

function size(shape: readonly number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

/** Returns element [i, j] of a rank-2 block. */
const at2 = (b: Block, i: number, j: number): number => b.data[i * b.shape[1] + j];

function block(shape: readonly number[], f: (index: number) => number): Block {
  return { shape, data: Array.from({ length: size(shape) }, (_, i) => f(i)) };
}

function elementwise(blocks: readonly Block[], f: (values: number[]) => number): Block {
  return block(blocks[0].shape, (i) => f(blocks.map((b) => b.data[i])));
}

/** Returns rows [start, stop) of a rank-2 block. */
function rows(b: Block, start: number, stop: number): Block {
  return { shape: [stop - start, b.shape[1]], data: b.data.slice(start * b.shape[1], stop * b.shape[1]) };
}

/** Returns columns [start, stop) of a rank-2 block. */
function columns(b: Block, start: number, stop: number): Block {
  return block([b.shape[0], stop - start], (i) => at2(b, Math.floor(i / (stop - start)), start + (i % (stop - start))));
}

function concatRows(blocks: readonly Block[]): Block {
  return { shape: [blocks.reduce((n, b) => n + b.shape[0], 0), ...blocks[0].shape.slice(1)], data: blocks.flatMap((b) => [...b.data]) };
}

function concatColumns(blocks: readonly Block[]): Block {
  const width = blocks.reduce((n, b) => n + b.shape[1], 0);
  return block([blocks[0].shape[0], width], (i) => {
    const [r, c] = [Math.floor(i / width), i % width];
    let offset = c;
    for (const b of blocks) {
      if (offset < b.shape[1]) return at2(b, r, offset);
      offset -= b.shape[1];
    }
    throw new Error("column out of range");
  });
}

/** A collective under test: the body, the local input shape for a group of `g` devices, and each device's expected output. */
interface CollectiveCase {
  readonly name: string;
  readonly localShape: (g: number) => number[];
  readonly body: (x: Tensor, axes: readonly string[], g: number) => Tensor;
  readonly expected: (blocks: readonly Block[], members: readonly number[], rank: number, device: number) => Block;
}

const sum = (values: number[]): number => values.reduce((a, b) => a + b, 0);

const reductions: readonly CollectiveCase[] = [
  { name: "psum", localShape: () => [3, 5], body: (x, axes) => nb.psum(x, axes), expected: (b, m) => elementwise(m.map((d) => b[d]), sum) },
  { name: "pmean", localShape: () => [3, 5], body: (x, axes) => nb.pmean(x, axes), expected: (b, m) => elementwise(m.map((d) => b[d]), (v) => sum(v) / v.length) },
  { name: "pmax", localShape: () => [5, 3], body: (x, axes) => nb.pmax(x, axes), expected: (b, m) => elementwise(m.map((d) => b[d]), (v) => Math.max(...v)) },
];

function oneAxis(axes: readonly string[]): string {
  expect(axes.length, "a single-axis collective").toBe(1);
  return axes[0];
}

const alongOneAxis: readonly CollectiveCase[] = [
  {
    name: "allGather tiled along dim 0",
    localShape: () => [3, 5],
    body: (x, axes) => nb.allGather(x, oneAxis(axes), { dim: 0, tiled: true }),
    expected: (b, m) => concatRows(m.map((d) => b[d])),
  },
  {
    name: "allGather tiled along dim 1",
    localShape: () => [3, 5],
    body: (x, axes) => nb.allGather(x, oneAxis(axes), { dim: -1, tiled: true }),
    expected: (b, m) => concatColumns(m.map((d) => b[d])),
  },
  {
    name: "allGather stacked",
    localShape: () => [3, 5],
    body: (x, axes) => nb.allGather(x, oneAxis(axes)),
    expected: (b, m) => {
      const gathered = concatRows(m.map((d) => b[d]));
      return { shape: [m.length, 3, 5], data: gathered.data };
    },
  },
  {
    name: "psumScatter tiled along dim 0",
    localShape: (g) => [3 * g, 5],
    body: (x, axes) => nb.psumScatter(x, oneAxis(axes), { dim: 0, tiled: true }),
    expected: (b, m, rank) => rows(elementwise(m.map((d) => b[d]), sum), 3 * rank, 3 * rank + 3),
  },
  {
    name: "psumScatter tiled along dim 1",
    localShape: (g) => [5, 3 * g],
    body: (x, axes) => nb.psumScatter(x, oneAxis(axes), { dim: 1, tiled: true }),
    expected: (b, m, rank) => columns(elementwise(m.map((d) => b[d]), sum), 3 * rank, 3 * rank + 3),
  },
  {
    name: "psumScatter untiled",
    localShape: (g) => [g, 5],
    body: (x, axes) => nb.psumScatter(x, oneAxis(axes)),
    expected: (b, m, rank) => {
      const row = rows(elementwise(m.map((d) => b[d]), sum), rank, rank + 1);
      return { shape: [5], data: row.data };
    },
  },
  {
    name: "allToAll split 0 concat 1",
    localShape: (g) => [3 * g, 5],
    body: (x, axes) => nb.allToAll(x, oneAxis(axes), { splitDim: 0, concatDim: 1 }),
    expected: (b, m, rank) => concatColumns(m.map((d) => rows(b[d], 3 * rank, 3 * rank + 3))),
  },
  {
    name: "allToAll split 1 concat 0",
    localShape: (g) => [3, 5 * g],
    body: (x, axes) => nb.allToAll(x, oneAxis(axes), { splitDim: 1, concatDim: 0 }),
    expected: (b, m, rank) => concatRows(m.map((d) => columns(b[d], 5 * rank, 5 * rank + 5))),
  },
  {
    name: "ppermute cyclic shift",
    localShape: () => [3, 5],
    body: (x, axes, g) => nb.ppermute(x, oneAxis(axes), Array.from({ length: g }, (_, r) => [r, (r + 1) % g] as [number, number])),
    expected: (b, m, rank) => b[m[(rank + m.length - 1) % m.length]],
  },
  {
    name: "ppermute from the last rank to rank 0 only",
    localShape: () => [3, 5],
    body: (x, axes, g) => nb.ppermute(x, oneAxis(axes), [[g - 1, 0]]),
    expected: (b, m, rank) => (rank === 0 ? b[m[m.length - 1]] : block([3, 5], () => 0)),
  },
  {
    name: "axisIndex",
    localShape: () => [1],
    body: (x, axes) => nb.reshape(nb.cast(nb.axisIndex(oneAxis(axes)), "float32"), [1]),
    expected: (_b, _m, rank) => ({ shape: [1], data: [rank] }),
  },
];

function randomGlobal(rng: Rng, shape: readonly number[]): Tensor {
  return nb.tensor(Float32Array.from({ length: size(shape) }, () => rng.uniform(-2, 2)), { shape: [...shape] });
}

/** Returns each device's block of a global value split along dim 0 over every mesh axis: device d has rows [d r, (d + 1) r). */
function deviceBlocks(x: Tensor, devices: number): Block[] {
  const data = Array.from(x.toArray());
  const rowCount = x.shape[0] / devices;
  const rest = x.shape.slice(1);
  const width = size(rest);
  return Array.from({ length: devices }, (_, d) => ({ shape: [rowCount, ...rest], data: data.slice(d * rowCount * width, (d + 1) * rowCount * width) }));
}

/** Runs `c` along `axes` with input and output split along dim 0 over every mesh axis, and compares every device's block. */
function checkCollective(mesh: TestMesh, c: CollectiveCase, axes: readonly string[], seed: number): void {
  const devices = deviceCount(mesh);
  const g = axes.reduce((n, axis) => n * mesh.shape[mesh.axisNames.indexOf(axis)], 1);
  const local = c.localShape(g);
  const x = randomGlobal(new Rng(seed), [local[0] * devices, ...local.slice(1)]);
  const everyAxis = nb.P([...mesh.axisNames]);
  const out = nb.shardMap((block: Tensor) => c.body(block, axes, g), { mesh, inSpecs: everyAxis, outSpecs: everyAxis })(x);

  const blocks = deviceBlocks(x, devices);
  const expected = Array.from({ length: devices }, (_, d) => {
    const { members, rank } = groupOf(mesh, d, axes);
    return c.expected(blocks, members, rank, d);
  });
  expect(out.shape, "output shape").toEqual([expected[0].shape[0] * devices, ...expected[0].shape.slice(1)]);
  expectClose(out.toArray(), expected.flatMap((b) => [...b.data]), { rtol: 1e-6, atol: 1e-6 }, c.name);
}

function describeMesh(mesh: TestMesh): string {
  return `mesh [${mesh.shape.join(", ")}]`;
}

// The same meshes as worker devices: shardMap runs their programs on the workers, not on the simulator.
const deviceMeshes = meshes.map((mesh) => new nb.DeviceMesh(mesh.shape, mesh.axisNames));

beforeAll(async () => {
  await Promise.all(deviceMeshes.map((mesh) => mesh.ready()));
}, 60_000);

afterAll(async () => {
  await Promise.all(deviceMeshes.map((mesh) => mesh.dispose()));
});

const targets = [...meshes.map((mesh) => [`${describeMesh(mesh)} (simulated)`, mesh] as const), ...deviceMeshes.map((mesh) => [`${describeMesh(mesh)} of workers`, mesh] as const)];

describe.each(targets)("shardMap collectives on %s", (_label, mesh) => {
  const axisSets: readonly (readonly string[])[] = mesh.axisNames.length > 1 ? [...mesh.axisNames.map((a) => [a]), mesh.axisNames, [...mesh.axisNames].reverse()] : [mesh.axisNames];

  for (const axes of axisSets) {
    for (const [i, c] of reductions.entries()) {
      it(`${c.name} over [${axes.join(", ")}]`, () => checkCollective(mesh, c, axes, 100 * i + axes.length));
    }
  }
  for (const axis of mesh.axisNames) {
    for (const [i, c] of alongOneAxis.entries()) {
      it(`${c.name} along ${axis}`, () => checkCollective(mesh, c, [axis], 1000 + 17 * i + axis.length));
    }
  }

  it("replicated psum agrees on every device", () => {
    const devices = deviceCount(mesh);
    const x = randomGlobal(new Rng(7), [3 * devices, 5]);
    const everyAxis = nb.P([...mesh.axisNames]);
    const body = (block: Tensor): Tensor => nb.psum(block, [...mesh.axisNames]);
    const replicated = nb.shardMap(body, { mesh, inSpecs: everyAxis, outSpecs: nb.P() })(x);
    const copies = nb.shardMap(body, { mesh, inSpecs: everyAxis, outSpecs: everyAxis })(x).toArray();
    const total = deviceBlocks(x, devices).reduce((acc, b) => acc.map((v, i) => v + b.data[i]), new Array<number>(15).fill(0));
    expectClose(replicated.toArray(), total, { rtol: 1e-6, atol: 1e-6 }, "psum");
    for (let d = 0; d < devices; d++) {
      expect(Array.from(copies.slice(d * 15, (d + 1) * 15)), `device ${d}`).toEqual(Array.from(replicated.toArray()));
    }
  });

  it("psum of int32 is exact", () => {
    const devices = deviceCount(mesh);
    const rng = new Rng(11);
    const x = nb.tensor(Int32Array.from({ length: 3 * devices * 7 }, () => rng.int(-1000, 1000)), { shape: [3 * devices, 7] });
    const out = nb.shardMap((block: Tensor) => nb.psum(block, [...mesh.axisNames]), { mesh, inSpecs: nb.P([...mesh.axisNames]), outSpecs: nb.P() })(x);
    const total = deviceBlocks(x, devices).reduce((acc, b) => acc.map((v, i) => v + b.data[i]), new Array<number>(21).fill(0));
    expect(out.dtype).toBe("int32");
    expect(Array.from(out.toArray())).toEqual(total);
  });
});

describe("shardMap specs", () => {
  const mesh = { shape: [2, 2], axisNames: ["x", "y"] };

  it("splits several dimensions and replicates others", () => {
    const rng = new Rng(3);
    const a = randomGlobal(rng, [6, 10]);
    const b = randomGlobal(rng, [10, 3]);
    // x splits the rows of a and y splits the contraction, so a psum over y finishes the local matmuls.
    const matmul = nb.shardMap((left: Tensor, right: Tensor) => nb.psum(nb.matmul(left, right), "y"), {
      mesh,
      inSpecs: [nb.P("x", "y"), nb.P("y", null)],
      outSpecs: nb.P("x", null),
    });
    expectClose(matmul(a, b).toArray(), nb.matmul(a, b).toArray(), { rtol: 1e-5, atol: 1e-5 }, "matmul");
  });

  it("maps pytrees with spec prefixes", () => {
    const rng = new Rng(5);
    const params = { w: randomGlobal(rng, [4, 3]), b: randomGlobal(rng, [3]) };
    const x = randomGlobal(rng, [8, 4]);
    const f = nb.shardMap((p: { w: Tensor; b: Tensor }, batch: Tensor) => ({ y: nb.add(nb.matmul(batch, p.w), p.b), count: 2 }), {
      mesh,
      inSpecs: [nb.P(), nb.P(["x", "y"])],
      outSpecs: { y: nb.P(["x", "y"]), count: nb.P() },
    });
    const out = f(params, x);
    expect(out.count).toBe(2);
    expectClose(out.y.toArray(), nb.add(nb.matmul(x, params.w), params.b).toArray(), { rtol: 1e-5, atol: 1e-5 }, "y");
  });

  it("passes numbers through as static arguments", () => {
    const x = randomGlobal(new Rng(9), [4, 3]);
    const scale = nb.shardMap((block: Tensor, factor: number) => nb.mul(block, factor), { mesh, inSpecs: nb.P("x"), outSpecs: nb.P("x") });
    expectClose(scale(x, 3).toArray(), nb.mul(x, 3).toArray(), { rtol: 1e-6 }, "scale");
  });
});

describe("shardMap on a DeviceMesh", () => {
  it("runs with the mesh's shape and axis names", async () => {
    await using mesh = await nb.DeviceMesh.create([2, 2], ["data", "model"]);
    const x = randomGlobal(new Rng(13), [4, 6]);
    const f = nb.shardMap((block: Tensor) => nb.psum(block, "model"), { mesh, inSpecs: nb.P("data", "model"), outSpecs: nb.P("data") });
    const columns = x.toArray();
    const expected = Array.from({ length: 12 }, (_, i) => {
      const [r, c] = [Math.floor(i / 3), i % 3];
      return columns[r * 6 + c] + columns[r * 6 + c + 3];
    });
    expectClose(f(x).toArray(), expected, { rtol: 1e-6, atol: 1e-6 }, "psum over model");
  });
});
