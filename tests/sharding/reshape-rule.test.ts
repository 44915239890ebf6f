// The reshape rule keeps a split through merged and split dimensions when chunk bounds line up.

import { describe, expect, it } from "vitest";
import * as nb from "../../src/index.js";
import type { Tensor } from "../../src/core/tensor.js";
import { checkAgainstReference, randomData, Rng } from "./spmd-support.js";

const mesh = { shape: [2], axisNames: ["x"] };

function partitionReshape(shape: number[], target: number[], spec: nb.ShardingSpec): nb.SpmdProgram {
  const graph = nb.traceGraph((a: Tensor) => nb.reshape(a, target), [{ shape, dtype: "float32" }]);
  const globals = [randomData(new Rng(shape.length * 7 + target.length), { aval: { shape, dtype: "float32" }, domain: { kind: "float" } })];
  return checkAgainstReference(graph, [spec], mesh, globals, `reshape [${shape}] ${spec} to [${target}]`);
}

describe("reshape sharding rule", () => {
  it("keeps an even outer split when merging", () => {
    const program = partitionReshape([4, 3, 5], [12, 5], nb.P("x"));
    expect(nb.countCollectives(program).allGather).toBe(0);
    expect(program.outputs[0].spec.toString()).toBe('P("x", null)');
  });

  it("keeps an even split when splitting a dimension", () => {
    const program = partitionReshape([6, 7], [2, 3, 7], nb.P("x"));
    expect(nb.countCollectives(program).allGather).toBe(0);
    expect(program.outputs[0].spec.toString()).toBe('P("x", null, null)');
  });

  it("moves an embedding split to the heads", () => {
    const program = partitionReshape([2, 3, 8], [2, 3, 4, 2], nb.P(null, null, "x"));
    expect(nb.countCollectives(program).allGather).toBe(0);
    expect(program.outputs[0].spec.toString()).toBe('P(null, null, "x", null)');
  });

  it("gathers an uneven or inner split", () => {
    expect(nb.countCollectives(partitionReshape([3, 4], [12], nb.P("x"))).allGather).toBe(1);
    expect(nb.countCollectives(partitionReshape([4, 6], [24], nb.P(null, "x"))).allGather).toBe(1);
  });
});
