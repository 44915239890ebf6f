// Backward spec propagation: values whose uses all reshard them to one spec are computed in that spec
// when it saves bytes or work, and partitioned results still equal the unsharded graph.

import fc from "fast-check";
import { describe, expect, it } from "vitest";
import * as nb from "../../src/index.js";
import type { Aval } from "../../src/core/node.js";
import type { Tensor } from "../../src/core/tensor.js";
import type { Storage } from "../../src/runtime/storage.js";
import { checkSpmdProgram } from "../../src/sharding/check.js";
import { buildRecipe, randomRecipe } from "./random-graphs.js";
import { expectClose, meshes, randomData, randomSpec, referenceRun, Rng, type TestMesh } from "./spmd-support.js";

const f32 = (...shape: number[]): Aval => ({ shape, dtype: "float32" });
const mesh4 = { shape: [4], axisNames: ["x"] };

/** Partitions with and without backward propagation, checks both against the unsharded run and returns them. */
function partitionBoth(graph: nb.Graph, specs: readonly nb.ShardingSpec[], mesh: TestMesh, options: nb.PartitionOptions = {}): { forward: nb.SpmdProgram; backward: nb.SpmdProgram } {
  const inputs = specs.map((spec) => ({ spec, mesh }));
  const forward = nb.partition(graph, inputs, { ...options, propagateBackward: false });
  const backward = nb.partition(graph, inputs, options);
  const rng = new Rng(graph.inputs.length);
  const globals: Storage[] = graph.inputs.map((node) => randomData(rng, { aval: node.aval, domain: { kind: "float" } }));
  const expected = referenceRun(graph, globals);
  for (const [name, program] of [["forward", forward], ["backward", backward]] as const) {
    checkSpmdProgram(program);
    nb.runSpmd(program, globals).forEach((out, i) => expectClose(out, expected[i], `${name} output ${i}`));
  }
  return { forward, backward };
}

/** Returns device `device`'s compute steps as `prim out-shape` and its other steps by kind, in order. */
function describeSteps(program: nb.SpmdProgram, device = 0): string[] {
  return program.devices[device].steps.map((step) => (step.kind === "compute" ? `${step.prim} [${step.out.shape.join(",")}]` : step.kind));
}

describe("backward spec propagation", () => {
  it("computes a replicated value on shards", () => {
    const graph = nb.traceGraph((a: Tensor, b: Tensor) => nb.mul(nb.exp(a), b), [f32(8, 3), f32(8, 3)]);
    const { forward, backward } = partitionBoth(graph, [nb.P(), nb.P("x")], mesh4);
    expect(describeSteps(forward)).toEqual(["exp [8,3]", "split", "mul [2,3]"]);
    expect(describeSteps(backward)).toEqual(["split", "exp [2,3]", "mul [2,3]"]);
  });

  it("pushes a split through a chain", () => {
    const graph = nb.traceGraph((a: Tensor, b: Tensor) => nb.add(nb.tanh(nb.exp(a)), b), [f32(6, 5), f32(6, 5)]);
    const { backward } = partitionBoth(graph, [nb.P(), nb.P(null, "x")], mesh4);
    expect(describeSteps(backward, 3)).toEqual(["split", "exp [6,0]", "tanh [6,0]", "add [6,0]"]);
    expect(describeSteps(backward, 0)).toEqual(["split", "exp [6,2]", "tanh [6,2]", "add [6,2]"]);
  });

  it("gathers before widening a dtype", () => {
    const graph = nb.traceGraph((a: Tensor) => nb.cast(a, "float64"), [f32(8, 3)]);
    const { forward, backward } = partitionBoth(graph, [nb.P("x")], mesh4, { outputSpecs: [nb.P()] });
    expect(describeSteps(forward)).toEqual(["cast [2,3]", "allGather"]);
    expect(describeSteps(backward)).toEqual(["allGather", "cast [8,3]"]);
    const gather = backward.devices[0].steps[0];
    expect(gather.kind === "allGather" ? gather.out.dtype : undefined).toBe("float32");
  });

  it("keeps a gather after a narrowing cast", () => {
    const graph = nb.traceGraph((a: Tensor) => nb.cast(a, "float32"), [{ shape: [8, 3], dtype: "float64" }]);
    const { backward } = partitionBoth(graph, [nb.P("x")], mesh4, { outputSpecs: [nb.P()] });
    expect(describeSteps(backward)).toEqual(["cast [2,3]", "allGather"]);
  });

  it("keeps a partial sum pending", () => {
    const graph = nb.traceGraph((a: Tensor, b: Tensor) => nb.mul(a, b), [f32(3), f32(3)]);
    const { backward } = partitionBoth(graph, [new nb.ShardingSpec([null], { x: "sum" }), nb.P()], mesh4);
    expect(describeSteps(backward)).toEqual(["mul [3]", "allReduce"]);
  });

  it("computes a constrained value in its spec", () => {
    let exp: Tensor | undefined;
    const graph = nb.traceGraph((a: Tensor) => {
      exp = nb.exp(a);
      return nb.tanh(exp);
    }, [f32(8, 3)]);
    const constraints = new Map([[(exp as Tensor).node, nb.P("x")]]);
    const { forward, backward } = partitionBoth(graph, [nb.P()], mesh4, { constraints });
    expect(describeSteps(forward)).toEqual(["exp [8,3]", "split", "tanh [2,3]"]);
    expect(describeSteps(backward)).toEqual(["split", "exp [2,3]", "tanh [2,3]"]);
  });

  it("leaves values with two different uses alone", () => {
    const graph = nb.traceGraph((a: Tensor, b: Tensor) => {
      const e = nb.exp(a);
      return [nb.mul(e, b), e];
    }, [f32(8, 3), f32(8, 3)]);
    const { forward, backward } = partitionBoth(graph, [nb.P(), nb.P("x")], mesh4);
    expect(describeSteps(backward)).toEqual(describeSteps(forward));
  });

  it("never changes results on random graphs", () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 2 ** 31 - 1 }), fc.integer({ min: 0, max: meshes.length - 1 }), (seed, meshIndex) => {
        const rng = new Rng(seed);
        const mesh: TestMesh = meshes[meshIndex];
        const n = rng.int(1, 6);
        const inputCount = rng.int(1, 4);
        const recipe = randomRecipe(rng, inputCount);
        const avals = Array.from({ length: inputCount }, () => f32(n, n));
        const graph = nb.traceGraph(buildRecipe(recipe), avals);
        const specs = avals.map(() => randomSpec(rng, 2, mesh, ["sum", "max", "min"]));
        const outputSpecs = graph.outputs.map((node) => (rng.next() < 0.5 ? undefined : randomSpec(rng, node.shape.length, mesh, [])));
        const label = `mesh [${mesh.shape.join(", ")}], n ${n}, specs ${specs.join(" ")}, outputs ${outputSpecs.join(" ")}, ${JSON.stringify(recipe)} (seed ${seed})`;
        const program = nb.partition(graph, specs.map((spec) => ({ spec, mesh })), { outputSpecs });
        checkSpmdProgram(program);
        const globals = avals.map((aval) => randomData(rng, { aval, domain: { kind: "float" } }));
        const expected = referenceRun(graph, globals);
        nb.runSpmd(program, globals).forEach((out, i) => expectClose(out, expected[i], `${label}, output ${i}`));
      }),
      { numRuns: 200, seed: 11 },
    );
  });
});
