// The host simulator's reduceScatter and permute steps on hand-built programs, against hand-computed values.

import { describe, expect, it } from "vitest";
import * as nb from "../../src/index.js";
import type { Aval } from "../../src/core/node.js";
import type { LocalStep, SpmdProgram } from "../../src/sharding/program.js";
import { MeshTopology } from "../../src/runtime/mesh/topology.js";

/** Builds a one-step program on a 1-D mesh of `size` devices, with the input in slot 0 and the output in slot 1. */
function oneStepProgram(size: number, inAval: Aval, outAval: (rank: number) => Aval, step: (rank: number, out: Aval) => LocalStep): SpmdProgram {
  const mesh = { shape: [size], axisNames: ["x"] };
  const spec = nb.ShardingSpec.replicated(inAval.shape.length);
  return {
    mesh,
    inputs: [{ aval: inAval, spec }],
    outputs: [{ aval: inAval, spec }],
    devices: Array.from({ length: size }, (_, device) => ({ device, slotCount: 2, inputSlots: [0], steps: [step(device, outAval(device))], outputSlots: [1] })),
  };
}

const topology = (size: number): MeshTopology => new MeshTopology([size], ["x"]);

describe("simulate reduceScatter", () => {
  it("sums in rank order and keeps torch.chunk bounds", () => {
    // 3 devices, rows 7: chunks of 3, 3 and 1 rows.
    const size = 3;
    const inAval: Aval = { shape: [7, 2], dtype: "float64" };
    const bounds = [0, 1, 2].map((rank) => nb.chunkBounds(7, size, rank));
    const program = oneStepProgram(size, inAval, (rank) => ({ shape: [bounds[rank][1] - bounds[rank][0], 2], dtype: "float64" }), (rank, out) => ({
      kind: "reduceScatter", op: "sum", axis: "x", dim: 0, group: topology(size).groupOf(rank, ["x"]), input: 0, output: 1, out,
    }));
    const inputs = [0, 1, 2].map((device) => [Float64Array.from({ length: 14 }, (_, i) => (device + 1) * 10 + i * 0.5)]);
    const outputs = nb.simulate(program, inputs);
    for (let rank = 0; rank < size; rank++) {
      const [start, stop] = bounds[rank];
      const expected = Float64Array.from({ length: (stop - start) * 2 }, (_, j) => inputs.reduce((sum, [x]) => sum + x[start * 2 + j], 0));
      expect(Array.from(outputs[rank][0]), `rank ${rank}`).toEqual(Array.from(expected));
    }
  });

  it("takes the max", () => {
    const inAval: Aval = { shape: [4], dtype: "float32" };
    const program = oneStepProgram(2, inAval, () => ({ shape: [2], dtype: "float32" }), (rank, out) => ({
      kind: "reduceScatter", op: "max", axis: "x", dim: 0, group: topology(2).groupOf(rank, ["x"]), input: 0, output: 1, out,
    }));
    const outputs = nb.simulate(program, [[Float32Array.of(1, -5, 3, 8)], [Float32Array.of(2, -6, 3, 7)]]);
    expect(Array.from(outputs[0][0])).toEqual([2, -5]);
    expect(Array.from(outputs[1][0])).toEqual([3, 8]);
  });
});

describe("simulate permute", () => {
  it("moves inputs along pairs and zeros untargeted ranks", () => {
    const inAval: Aval = { shape: [3], dtype: "float32" };
    const pairs = [[0, 2], [2, 1]] as const;
    const program = oneStepProgram(4, inAval, () => inAval, (rank, out) => ({
      kind: "permute", axis: "x", pairs, group: topology(4).groupOf(rank, ["x"]), input: 0, output: 1, out,
    }));
    const inputs = [0, 1, 2, 3].map((device) => [Float32Array.of(device + 0.5, device + 1.5, -device - 2.5)]);
    const outputs = nb.simulate(program, inputs);
    expect(Array.from(outputs[0][0])).toEqual([0, 0, 0]);
    expect(Array.from(outputs[1][0])).toEqual(Array.from(inputs[2][0]));
    expect(Array.from(outputs[2][0])).toEqual(Array.from(inputs[0][0]));
    expect(Array.from(outputs[3][0])).toEqual([0, 0, 0]);
  });
});
