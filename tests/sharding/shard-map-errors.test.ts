// Bad input to nb.shardMap and its collectives raises typed errors that name the value and the fix.

import { describe, expect, it } from "vitest";
import * as nb from "../../src/index.js";
import type { Tensor } from "../../src/index.js";

const mesh = { shape: [2, 2], axisNames: ["x", "y"] };
const x = nb.ones([4, 6]);
const identity = (t: Tensor): Tensor => t;

/** Expects `run` to raise an instance of `type` whose message matches every pattern. */
function expectError(run: () => unknown, type: new (...args: never[]) => Error, ...patterns: RegExp[]): void {
  let caught: unknown;
  try {
    run();
  } catch (error) {
    caught = error;
  }
  expect(caught, "an error").toBeInstanceOf(type);
  for (const pattern of patterns) expect((caught as Error).message).toMatch(pattern);
}

describe("shardMap input specs", () => {
  it("rejects an unknown mesh axis", () => {
    const f = nb.shardMap(identity, { mesh, inSpecs: nb.P("z"), outSpecs: nb.P("z") });
    expectError(() => f(x), nb.ShardingError, /shardMap argument 0/, /mesh axis "z"/, /the mesh has axes \[x, y\]; use one of those/);
  });

  it("rejects a spec longer than the rank", () => {
    const f = nb.shardMap(identity, { mesh, inSpecs: nb.P("x", null, "y"), outSpecs: nb.P("x") });
    expectError(() => f(x), nb.ShardingError, /shardMap argument 0: spec P\("x", null, "y"\) has 3 entries but the tensor has rank 2/, /give at most one entry per dimension/);
  });

  it("rejects a split that does not divide", () => {
    const f = nb.shardMap(identity, { mesh, inSpecs: nb.P(null, ["x", "y"]), outSpecs: nb.P(null, ["x", "y"]) });
    expectError(() => f(nb.ones([4, 6])), nb.ShardingError, /shardMap argument 0: dimension 1 of shape \[4, 6\] has size 6/, /4 devices of mesh axes \[x, y\]/, /pad the dimension to a multiple of 4/);
  });

  it("rejects partial entries", () => {
    const f = nb.shardMap(identity, { mesh, inSpecs: new nb.ShardingSpec(["x"], { y: "sum" }), outSpecs: nb.P("x") });
    expectError(() => f(x), nb.ShardingError, /shardMap argument 0/, /partial entries/, /drop them/);
  });

  it("rejects a wrong spec count", () => {
    const f = nb.shardMap((a: Tensor, b: Tensor) => nb.add(a, b), { mesh, inSpecs: [nb.P("x")], outSpecs: nb.P("x") });
    expectError(() => f(x, x), nb.ShardingError, /arguments: the specs are an array of 1 entries but the value is an array of 2 elements/, /give one spec per element/);
  });

  it("rejects a value that is not a spec", () => {
    const f = nb.shardMap(identity, { mesh, inSpecs: ["x" as unknown as nb.ShardingSpec], outSpecs: nb.P() });
    expectError(() => f(x), nb.ShardingError, /argument 0: a string is not a ShardingSpec; build specs with nb.P/);
  });

  it("rejects a missing mesh", () => {
    expectError(() => nb.shardMap(identity, { inSpecs: nb.P(), outSpecs: nb.P() } as unknown as nb.ShardMapOptions), nb.ValueError, /options.mesh is missing/);
  });

  it("rejects a mesh with mismatched axis names", () => {
    expectError(() => nb.shardMap(identity, { mesh: { shape: [2, 2], axisNames: ["x"] }, inSpecs: nb.P(), outSpecs: nb.P() }), nb.ValueError, /2 axes but 1 axis names/);
  });
});

describe("shardMap output specs", () => {
  it("rejects a varying output under a replicated spec", () => {
    const f = nb.shardMap(identity, { mesh, inSpecs: nb.P("x", "y"), outSpecs: nb.P(null, "y") });
    expectError(() => f(x), nb.ShardingError, /shardMap output: the value varies along mesh axis "x"/, /out spec P\(null, "y"\) does not name "x"/, /reduce it over "x" with nb.psum/);
  });

  it("accepts the same output after a psum", () => {
    const f = nb.shardMap((t: Tensor) => nb.psum(t, "x"), { mesh, inSpecs: nb.P("x", "y"), outSpecs: nb.P(null, "y") });
    expect(f(x).shape).toEqual([2, 6]);
  });

  it("rejects an out spec longer than the output rank", () => {
    const f = nb.shardMap((t: Tensor) => nb.sum(t), { mesh, inSpecs: nb.P(), outSpecs: nb.P(null) });
    expectError(() => f(x), nb.ShardingError, /shardMap output: spec P\(null\) has 1 entries but the tensor has rank 0/);
  });

  it("rejects an out spec structure that differs from the output", () => {
    const f = nb.shardMap(identity, { mesh, inSpecs: nb.P(), outSpecs: [nb.P(), nb.P()] });
    expectError(() => f(x), nb.ShardingError, /output: the specs are an array of 2 entries but the value is a tensor of shape \[4, 6\]/);
  });

  it("rejects missing keys in an object out spec", () => {
    const f = nb.shardMap((t: Tensor) => ({ a: t, b: t }), { mesh, inSpecs: nb.P(), outSpecs: { a: nb.P() } });
    expectError(() => f(x), nb.ShardingError, /output: the specs are an object with keys \[a\] but the value is an object with keys \[a, b\]/);
  });

  it("rejects an unknown axis in an out spec", () => {
    const f = nb.shardMap(identity, { mesh, inSpecs: nb.P(), outSpecs: nb.P("w") });
    expectError(() => f(x), nb.ShardingError, /shardMap output: spec P\("w"\) names mesh axis "w"/);
  });

  it("rejects partial entries in an out spec", () => {
    const f = nb.shardMap(identity, { mesh, inSpecs: nb.P(), outSpecs: new nb.ShardingSpec([], { x: "sum" }) });
    expectError(() => f(x), nb.ShardingError, /shardMap output: out spec .* has partial entries; reduce the value with nb.psum/);
  });
});

describe("collective errors", () => {
  it("raises outside shardMap", () => {
    expectError(() => nb.psum(x, "data"), nb.ShardingError, /psum: mesh axis "data" is not bound; call psum inside the body of nb.shardMap/);
    expectError(() => nb.allGather(x, "x"), nb.ShardingError, /allGather: mesh axis "x" is not bound/);
    expectError(() => nb.axisIndex("x"), nb.ShardingError, /axisIndex: mesh axis "x" is not bound/);
  });

  it("raises for an axis the mesh does not have", () => {
    const f = nb.shardMap((t: Tensor) => nb.psum(t, "data"), { mesh, inSpecs: nb.P(), outSpecs: nb.P() });
    expectError(() => f(x), nb.ShardingError, /psum: mesh axis "data" not found; the shardMap mesh has axes \[x, y\]/);
  });

  it("raises for empty or repeated axes", () => {
    const run = (axes: string[]) => () => nb.shardMap((t: Tensor) => nb.psum(t, axes), { mesh, inSpecs: nb.P(), outSpecs: nb.P() })(x);
    expectError(run([]), nb.ValueError, /psum: give at least one mesh axis name/);
    expectError(run(["x", "x"]), nb.ValueError, /psum: mesh axes \[x, x\] repeat an axis; name each axis once/);
  });

  it("raises for dimensions out of range", () => {
    const run = (body: (t: Tensor) => Tensor) => () => nb.shardMap(body, { mesh, inSpecs: nb.P(), outSpecs: nb.P() })(x);
    expectError(run((t) => nb.allGather(t, "x", { dim: 2, tiled: true })), nb.IndexError, /allGather: dim 2 is out of range for a value of rank 2/);
    expectError(run((t) => nb.allToAll(t, "x", { splitDim: 0, concatDim: 5 })), nb.IndexError, /allToAll: dim 5 is out of range/);
  });

  it("raises when the axis size does not divide the scattered dimension", () => {
    const f = nb.shardMap((t: Tensor) => nb.psumScatter(t, "x", { dim: 1, tiled: true }), { mesh, inSpecs: nb.P("y"), outSpecs: nb.P("y", "x") });
    expectError(() => f(nb.ones([4, 5])), nb.ShapeError, /psumScatter: dimension 1 of the local shape \[2, 5\] has size 5/, /pad it to a multiple of 2/);
    const untiled = nb.shardMap((t: Tensor) => nb.psumScatter(t, "x"), { mesh, inSpecs: nb.P(), outSpecs: nb.P("x") });
    expectError(() => untiled(x), nb.ShapeError, /untiled scatter needs dimension 0 to have the size of mesh axis "x", 2, but it is 4; pass \{ tiled: true \}/);
  });

  it("raises for invalid ppermute pairs", () => {
    const run = (pairs: [number, number][]) => () => nb.shardMap((t: Tensor) => nb.ppermute(t, "x", pairs), { mesh, inSpecs: nb.P(), outSpecs: nb.P("x") })(x);
    expectError(run([[0, 2]]), nb.ValueError, /ppermute: pairs \[\[0,2\]\] must be \[source, target\] ranks in \[0, 2\) along mesh axis "x"/);
    expectError(run([[0, 1], [1, 1]]), nb.ValueError, /repeat a target rank; each device may appear once as a target/);
  });

  it("pmean of int32 computes in float32", () => {
    const ints = nb.tensor(Int32Array.of(1, 2, 3, 4), { shape: [4] });
    const mean = nb.shardMap((t: Tensor) => nb.pmean(t, "x"), { mesh, inSpecs: nb.P("x"), outSpecs: nb.P() })(ints);
    expect(mean.dtype).toBe("float32");
    expect(Array.from(mean.toArray())).toEqual([2, 3]);
  });
});

describe("shardMap calls", () => {
  it("rejects nested shardMap", () => {
    const inner = nb.shardMap(identity, { mesh, inSpecs: nb.P(), outSpecs: nb.P() });
    const outer = nb.shardMap((t: Tensor) => inner(t), { mesh, inSpecs: nb.P(), outSpecs: nb.P() });
    expectError(() => outer(x), nb.NotSupportedError, /nested shardMap is not supported/);
  });

  it("runs eagerly when compile traces it", () => {
    const f = nb.shardMap((t: Tensor) => nb.psum(t, "x"), { mesh, inSpecs: nb.P("x"), outSpecs: nb.P() });
    const compiled = nb.compile((t: Tensor) => nb.mul(f(t), 2));
    expect(Array.from(compiled(x).toArray())).toEqual(new Array<number>(12).fill(4));
    expect(compiled.stats.fallbacks).toBe(1);
    const strict = nb.compile((t: Tensor) => f(t), { fallback: "error" });
    expectError(() => strict(x), nb.TracerError, /shardMap: the call needs concrete arguments/);
  });
});
