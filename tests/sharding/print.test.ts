// formatSpmdProgram: the header, input, step and output lines of one device's program.

import { afterEach, describe, expect, it, vi } from "vitest";
import * as nb from "../../src/index.js";
import type { Aval } from "../../src/core/node.js";
import type { Tensor } from "../../src/core/tensor.js";
import { setDebugLevel } from "../../src/runtime/debug.js";
import { MeshTopology } from "../../src/runtime/mesh/topology.js";
import { formatSpmdProgram } from "../../src/sharding/print.js";

const f32 = (...shape: number[]): Aval => ({ shape, dtype: "float32" });
const mesh22 = { shape: [2, 2], axisNames: ["data", "model"] };

/** Partitions a Megatron-style MLP on a 2x2 mesh, with its output scattered over "model", and a max over the batch. */
function megatronProgram(): nb.SpmdProgram {
  const graph = nb.traceGraph(
    (x: Tensor, w1: Tensor, w2: Tensor) => [nb.matmul(nb.tanh(nb.matmul(x, w1)), w2), nb.max(x, 0)],
    [f32(3, 4), f32(4, 6), f32(6, 4)],
  );
  const inputs = [nb.P("data", null), nb.P(null, "model"), nb.P("model", null)].map((spec) => ({ spec, mesh: mesh22 }));
  return nb.partition(graph, inputs, { outputSpecs: [nb.P(null, "model"), undefined] });
}

describe("formatSpmdProgram", () => {
  const program = megatronProgram();
  const lines = formatSpmdProgram(program, 3).split("\n");

  it("starts with the device and mesh", () => {
    expect(lines[0]).toBe(`device 3 of mesh [2, 2] with axes [data, model]: ${program.devices[3].steps.length} steps over ${program.devices[3].slotCount} slots`);
  });

  it("lists inputs with local and global avals", () => {
    expect(lines[1]).toBe('input 0 %0 : float32[1,4] of float32[3,4] P("data", null)');
    expect(lines[2]).toBe('input 1 %1 : float32[4,3] of float32[4,6] P(null, "model")');
    expect(lines[3]).toBe('input 2 %2 : float32[3,4] of float32[6,4] P("model", null)');
  });

  it("prints one line per step", () => {
    const stepLines = lines.slice(4, 4 + program.devices[3].steps.length);
    expect(stepLines).toHaveLength(program.devices[3].steps.length);
    for (const line of stepLines) expect(line).toMatch(/^%\d+(, %\d+)* = \S+/);
  });

  it("labels compute steps with primitive and params", () => {
    expect(lines).toContainEqual(expect.stringMatching(/^%\d+ = matmul#\d+\(%0, %1\) : float32\[1,3\]$/));
    expect(lines).toContainEqual(expect.stringMatching(/^%\d+ = reduceMax#\d+\(%0\) \{"axes":\[0\]\} : float32\[4\]$/));
  });

  it("shows collectives with axes and groups", () => {
    expect(lines).toContainEqual(expect.stringMatching(/^%\d+ = reduceScatter sum over model dim 1 \(%\d+\) group \[2, 3\] rank 1 : float32\[1,2\]$/));
    expect(lines).toContainEqual(expect.stringMatching(/^%\d+ = allReduce max over \[data\] \(%\d+\) group \[1, 3\] rank 1 : float32\[4\]$/));
  });

  it("ends with the outputs", () => {
    const outputs = program.devices[3].outputSlots;
    expect(lines.at(-2)).toBe(`output 0 %${outputs[0]} : float32[3,2] of float32[3,4] P(null, "model")`);
    expect(lines.at(-1)).toBe(`output 1 %${outputs[1]} : float32[4] of float32[4] P(null)`);
  });

  it("prints other devices' shards", () => {
    const device0 = formatSpmdProgram(program, 0).split("\n");
    expect(device0).toHaveLength(lines.length);
    expect(device0[1]).toBe('input 0 %0 : float32[2,4] of float32[3,4] P("data", null)');
    expect(formatSpmdProgram(program)).toBe(formatSpmdProgram(program, 0));
  });

  it("shows empty shards and fills", () => {
    const graph = nb.traceGraph((a: Tensor) => nb.max(a, 0), [f32(2, 3)]);
    const empty = nb.partition(graph, [{ spec: nb.P("x"), mesh: { shape: [3], axisNames: ["x"] } }]);
    const text = formatSpmdProgram(empty, 2);
    expect(text).toContain("input 0 %0 : float32[0,3] of float32[2,3]");
    expect(text).toMatch(/^%\d+ = fill -Infinity for reduceMax#\d+ over an empty shard : float32\[3\]$/m);
  });

  it("shows permute pairs", () => {
    const mesh = { shape: [3], axisNames: ["x"] };
    const topology = new MeshTopology(mesh.shape, mesh.axisNames);
    const port = { aval: f32(2), spec: nb.P(null) };
    const permuted: nb.SpmdProgram = {
      mesh,
      inputs: [port],
      outputs: [port],
      devices: [0, 1, 2].map((device) => ({
        device,
        slotCount: 2,
        inputSlots: [0],
        outputSlots: [1],
        steps: [{ kind: "permute", axis: "x", pairs: [[0, 1], [1, 2]], group: topology.groupOf(device, ["x"]), input: 0, output: 1, out: f32(2) }],
      })),
    };
    expect(formatSpmdProgram(permuted, 1).split("\n")[2]).toBe("%1 = permute over x pairs [0->1, 1->2] (%0) group [0, 1, 2] rank 1 : float32[2]");
  });

  it("rejects a device outside the mesh", () => {
    expect(() => formatSpmdProgram(program, 4)).toThrow(nb.ValueError);
    expect(() => formatSpmdProgram(program, 4)).toThrow(/device 4 is not in this program's mesh of 4 devices/);
  });
});

describe("partition at NABLA_DEBUG=2", () => {
  afterEach(() => {
    setDebugLevel(0);
    vi.restoreAllMocks();
  });

  it("logs device 0's program", () => {
    const written: string[] = [];
    vi.spyOn(process.stderr, "write").mockImplementation((chunk: string | Uint8Array) => {
      written.push(String(chunk));
      return true;
    });
    setDebugLevel(2);
    const program = megatronProgram();
    expect(written.join("")).toContain(`[nabla] partitioned program, ${formatSpmdProgram(program, 0)}`);
  });
});
