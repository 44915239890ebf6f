// The reduceScatter and permute steps on the host simulator: reduceScatter equals an all-reduce followed
// by a split and the unsharded value, and permute moves each source's shard to its target.

import fc from "fast-check";
import { describe, expect, it } from "vitest";
import * as nb from "../../src/index.js";
import type { Aval } from "../../src/core/node.js";
import { MeshTopology } from "../../src/runtime/mesh/topology.js";
import type { Storage } from "../../src/runtime/storage.js";
import { isCollective, type LocalStep } from "../../src/sharding/program.js";
import type { PartialOp } from "../../src/sharding/spec.js";
import { expectClose, meshes, randomData, Rng, type TestMesh } from "./spmd-support.js";

const ops: readonly PartialOp[] = ["sum", "max", "min"];

interface Port {
  readonly aval: Aval;
  readonly spec: nb.ShardingSpec;
}

/** Builds a program that reads slot 0, runs the steps `make` returns per device and outputs the last slot. */
function programOf(mesh: TestMesh, input: Port, output: Port, make: (device: number, topology: MeshTopology) => LocalStep[]): nb.SpmdProgram {
  const topology = new MeshTopology(mesh.shape, mesh.axisNames);
  const devices = Array.from({ length: topology.deviceCount }, (_, device) => {
    const steps = make(device, topology);
    return { device, slotCount: steps.length + 1, inputSlots: [0], steps, outputSlots: [steps.length] };
  });
  return { mesh, inputs: [input], outputs: [output], devices };
}

function localAval(mesh: TestMesh, port: Port, device: number): Aval {
  return { shape: nb.shardShape(port.aval.shape, port.spec, mesh, device), dtype: port.aval.dtype };
}

function randomShape(rng: Rng): number[] {
  return Array.from({ length: rng.int(1, 4) }, () => (rng.next() < 0.15 ? 0 : rng.int(1, 8)));
}

interface ScatterCase {
  readonly mesh: TestMesh;
  readonly axis: string;
  readonly dim: number;
  readonly op: PartialOp;
  readonly input: Port;
  readonly output: Port;
  readonly label: string;
}

/** Draws a value partial with `op` on one axis, possibly split on another, and scattered along a random dimension. */
function scatterCase(rng: Rng, mesh: TestMesh): ScatterCase {
  const shape = randomShape(rng);
  const dtype = rng.next() < 0.25 ? "int32" : "float32";
  const axis = mesh.axisNames[rng.int(0, mesh.axisNames.length)];
  const dim = rng.int(0, shape.length);
  const op = ops[rng.int(0, ops.length)];
  const dims: string[][] = shape.map(() => []);
  for (const other of mesh.axisNames) if (other !== axis && rng.next() < 0.6) dims[rng.int(0, shape.length)].push(other);
  const inputSpec = new nb.ShardingSpec(dims, { [axis]: op });
  const outDims = dims.map((d, i) => (i === dim ? [...d, axis] : d));
  const outputSpec = new nb.ShardingSpec(outDims);
  const aval: Aval = { shape, dtype };
  const label = `mesh [${mesh.shape.join(", ")}], ${dtype} [${shape.join(", ")}] ${inputSpec} to ${outputSpec}`;
  return { mesh, axis, dim, op, input: { aval, spec: inputSpec }, output: { aval, spec: outputSpec }, label };
}

function reduceScatterProgram(c: ScatterCase): nb.SpmdProgram {
  return programOf(c.mesh, c.input, c.output, (device, topology) => [
    { kind: "reduceScatter", op: c.op, axis: c.axis, dim: c.dim, group: topology.groupOf(device, [c.axis]), input: 0, output: 1, out: localAval(c.mesh, c.output, device) },
  ]);
}

function allReduceThenSplitProgram(c: ScatterCase): nb.SpmdProgram {
  const settled: Port = { aval: c.input.aval, spec: c.input.spec.withoutPartial() };
  return programOf(c.mesh, c.input, c.output, (device, topology) => {
    const group = topology.groupOf(device, [c.axis]);
    return [
      { kind: "allReduce", op: c.op, axes: [c.axis], group, inputs: [0], outputs: [1], outs: [localAval(c.mesh, settled, device)] },
      { kind: "split", axis: c.axis, dim: c.dim, group, input: 1, output: 2, out: localAval(c.mesh, c.output, device) },
    ];
  });
}

function dataFor(rng: Rng, aval: Aval): Storage {
  return randomData(rng, { aval, domain: aval.dtype === "int32" ? { kind: "index", bound: 1000 } : { kind: "float" } });
}

describe("reduceScatter step", () => {
  it("equals all-reduce then split", () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 2 ** 31 - 1 }), fc.integer({ min: 0, max: meshes.length - 1 }), (seed, meshIndex) => {
        const rng = new Rng(seed);
        const c = scatterCase(rng, meshes[meshIndex]);
        const global = dataFor(rng, c.input.aval);
        const [scattered] = nb.runSpmd(reduceScatterProgram(c), [global]);
        const [reference] = nb.runSpmd(allReduceThenSplitProgram(c), [global]);
        expect(Array.from(scattered), `${c.label} (seed ${seed})`).toEqual(Array.from(reference));
      }),
      { numRuns: 150, seed: 3 },
    );
  });

  it("matches the unsharded value", () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 2 ** 31 - 1 }), fc.integer({ min: 0, max: meshes.length - 1 }), (seed, meshIndex) => {
        const rng = new Rng(seed);
        const c = scatterCase(rng, meshes[meshIndex]);
        const global = dataFor(rng, c.input.aval);
        const [scattered] = nb.runSpmd(reduceScatterProgram(c), [global]);
        expectClose(scattered, global, `${c.label} (seed ${seed})`);
      }),
      { numRuns: 150, seed: 4 },
    );
  });

  it("keeps uneven chunks like torch.chunk", () => {
    const mesh = { shape: [4], axisNames: ["x"] };
    const aval: Aval = { shape: [5, 2], dtype: "float32" };
    const c: ScatterCase = {
      mesh, axis: "x", dim: 0, op: "sum", label: "[5, 2] on 4 devices",
      input: { aval, spec: new nb.ShardingSpec([null, null], { x: "sum" }) },
      output: { aval, spec: nb.P("x", null) },
    };
    const program = reduceScatterProgram(c);
    const outs = program.devices.map((local) => local.steps[0].kind === "reduceScatter" ? local.steps[0].out.shape : []);
    expect(outs).toEqual([[2, 2], [2, 2], [1, 2], [0, 2]]);
    const global = Float32Array.from({ length: 10 }, (_, i) => i - 4.5);
    const local = program.devices.map(() => [Float32Array.from(global, (v) => v / 4)]);
    const results = nb.simulate(program, local);
    expect(Array.from(results[0][0])).toEqual([-4.5, -3.5, -2.5, -1.5]);
    expect(Array.from(results[2][0])).toEqual([3.5, 4.5]);
    expect(results[3][0]).toHaveLength(0);
  });
});

function shuffledRanks(rng: Rng, size: number): number[] {
  const ranks = Array.from({ length: size }, (_, i) => i);
  for (let i = size - 1; i > 0; i--) {
    const j = rng.int(0, i + 1);
    [ranks[i], ranks[j]] = [ranks[j], ranks[i]];
  }
  return ranks;
}

/** Draws pairs with distinct sources and distinct targets among `size` ranks. */
function randomPairs(rng: Rng, size: number): [number, number][] {
  const sources = shuffledRanks(rng, size);
  const targets = shuffledRanks(rng, size);
  const count = rng.int(0, size + 1);
  return sources.slice(0, count).map((source, i) => [source, targets[i]]);
}

describe("permute step", () => {
  it("moves each source's input to its target", () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 2 ** 31 - 1 }), fc.integer({ min: 0, max: meshes.length - 1 }), (seed, meshIndex) => {
        const rng = new Rng(seed);
        const mesh = meshes[meshIndex];
        const axis = mesh.axisNames[rng.int(0, mesh.axisNames.length)];
        const aval: Aval = { shape: randomShape(rng), dtype: rng.next() < 0.25 ? "int32" : "float32" };
        const topology = new MeshTopology(mesh.shape, mesh.axisNames);
        const pairs = randomPairs(rng, mesh.shape[mesh.axisNames.indexOf(axis)]);
        const port: Port = { aval, spec: nb.ShardingSpec.replicated(aval.shape.length) };
        const program = programOf(mesh, port, port, (device) => [
          { kind: "permute", axis, pairs, group: topology.groupOf(device, [axis]), input: 0, output: 1, out: aval },
        ]);
        const locals = program.devices.map(() => [dataFor(rng, aval)]);
        const outputs = nb.simulate(program, locals);
        const label = `mesh [${mesh.shape.join(", ")}] along ${axis}, pairs ${JSON.stringify(pairs)} (seed ${seed})`;
        outputs.forEach(([out], device) => {
          const { members, rank } = topology.groupOf(device, [axis]);
          const pair = pairs.find(([, target]) => target === rank);
          const expected = pair === undefined ? new Array<number>(out.length).fill(0) : Array.from(locals[members[pair[0]]][0]);
          expect(Array.from(out), `${label}, device ${device}`).toEqual(expected);
        });
      }),
      { numRuns: 150, seed: 5 },
    );
  });

  it("rotates the shards of a split value", () => {
    for (const mesh of meshes) {
      for (const axis of mesh.axisNames) {
        const n = mesh.shape[mesh.axisNames.indexOf(axis)];
        const aval: Aval = { shape: [2 * n, 3], dtype: "float32" };
        const port: Port = { aval, spec: nb.P(axis, null) };
        const pairs = Array.from({ length: n }, (_, r): [number, number] => [r, (r + 1) % n]);
        const program = programOf(mesh, port, port, (device, topology) => [
          { kind: "permute", axis, pairs, group: topology.groupOf(device, [axis]), input: 0, output: 1, out: localAval(mesh, port, device) },
        ]);
        const global = Float32Array.from({ length: 6 * n }, (_, i) => i + 1);
        const [rotated] = nb.runSpmd(program, [global]);
        // Block r of the output is block r - 1 of the input: the last 6 elements move to the front.
        const expected = [...Array.from(global.slice(6 * n - 6)), ...Array.from(global.slice(0, 6 * n - 6))];
        expect(Array.from(rotated), `mesh [${mesh.shape.join(", ")}] along ${axis}`).toEqual(expected);
      }
    }
  });

  it("rejects two pairs with one target", () => {
    const mesh = { shape: [3], axisNames: ["x"] };
    const aval: Aval = { shape: [2], dtype: "float32" };
    const port: Port = { aval, spec: nb.P(null) };
    const program = programOf(mesh, port, port, (device, topology) => [
      { kind: "permute", axis: "x", pairs: [[0, 2], [1, 2]], group: topology.groupOf(device, ["x"]), input: 0, output: 1, out: aval },
    ]);
    const locals = program.devices.map(() => [Float32Array.of(1, 2)]);
    expect(() => nb.simulate(program, locals)).toThrow(/permute pairs target rank 2 2 times/);
  });
});

describe("collective counts", () => {
  it("include reduceScatter and permute", () => {
    const mesh = { shape: [2], axisNames: ["x"] };
    const aval: Aval = { shape: [4], dtype: "float32" };
    const port: Port = { aval, spec: nb.P(null) };
    const program = programOf(mesh, port, { aval, spec: nb.P("x") }, (device, topology) => {
      const group = topology.groupOf(device, ["x"]);
      const steps: LocalStep[] = [
        { kind: "permute", axis: "x", pairs: [[0, 1], [1, 0]], group, input: 0, output: 1, out: aval },
        { kind: "reduceScatter", op: "sum", axis: "x", dim: 0, group, input: 1, output: 2, out: { shape: [2], dtype: "float32" } },
      ];
      return steps;
    });
    expect(program.devices[0].steps.every(isCollective)).toBe(true);
    expect(nb.countCollectives(program)).toEqual({ allReduce: 0, allGather: 0, allToAll: 0, reduceScatter: 1, permute: 1 });
  });
});
