// Helpers for partitioner tests: meshes, random specs, seeded inputs and the unsharded reference run.

import { expect } from "vitest";
import * as nb from "../../src/index.js";
import type { Aval, Node } from "../../src/core/node.js";
import { referenceExecutor } from "../../src/core/executor.js";
import { scheduleGraph } from "../../src/core/schedule.js";
import { checkSpmdProgram } from "../../src/sharding/check.js";
import type { PartialOp } from "../../src/sharding/spec.js";
import type { Storage } from "../../src/runtime/storage.js";
import { allocate } from "../../src/runtime/storage.js";
import { Rng } from "../support/random.js";

export { Rng };

export interface TestMesh {
  readonly shape: readonly number[];
  readonly axisNames: readonly string[];
}

export const meshes: readonly TestMesh[] = [
  { shape: [1], axisNames: ["x"] },
  { shape: [2], axisNames: ["x"] },
  { shape: [3], axisNames: ["x"] },
  { shape: [4], axisNames: ["x"] },
  { shape: [2, 2], axisNames: ["x", "y"] },
  { shape: [8], axisNames: ["x"] },
];

/** What an input's data looks like: any float, positive float, bool, or int32 in [0, bound). */
export type Domain = { kind: "float" } | { kind: "positive" } | { kind: "bool" } | { kind: "index"; bound: number } | { kind: "key" };

export interface InputCase {
  readonly aval: Aval;
  readonly domain: Domain;
}

/** Draws a random spec: each mesh axis splits a random dimension, is partial (float inputs only) or is unused. */
export function randomSpec(rng: Rng, rank: number, mesh: TestMesh, partialOps: readonly PartialOp[]): nb.ShardingSpec {
  const dims: string[][] = Array.from({ length: rank }, () => []);
  const partial: Record<string, PartialOp> = {};
  for (const axis of mesh.axisNames) {
    const roll = rng.next();
    if (roll < 0.25 || (rank === 0 && partialOps.length === 0)) continue;
    if ((roll < 0.45 && partialOps.length > 0) || rank === 0) {
      if (partialOps.length > 0) partial[axis] = partialOps[rng.int(0, partialOps.length)];
      continue;
    }
    dims[rng.int(0, rank)].push(axis);
  }
  return new nb.ShardingSpec(dims, partial);
}

export function randomData(rng: Rng, input: InputCase): Storage {
  const count = input.aval.shape.reduce((a, b) => a * b, 1);
  const out = allocate(input.aval.dtype, count);
  for (let i = 0; i < count; i++) {
    switch (input.domain.kind) {
      case "float":
        out[i] = rng.uniform(-2, 2);
        break;
      case "positive":
        out[i] = rng.uniform(0.5, 2);
        break;
      case "bool":
        out[i] = rng.next() < 0.5 ? 1 : 0;
        break;
      case "index":
        out[i] = rng.int(0, input.domain.bound);
        break;
      case "key":
        out[i] = rng.int(0, 1 << 30);
        break;
    }
  }
  return out;
}

/** Runs `graph` unsharded with the reference interpreter. */
export function referenceRun(graph: nb.Graph, globals: readonly Storage[]): Storage[] {
  const schedule = scheduleGraph(graph.outputs, (node) => node.kind !== "op" || node.realized);
  const position = new Map<Node, number>(graph.inputs.map((node, i) => [node, i]));
  const plan = referenceExecutor.plan(schedule, graph.outputs);
  return plan.run(schedule.boundary.map((node) => (node.kind === "placeholder" ? globals[position.get(node) as number] : (node.buffer as Storage))));
}

/** Expects float32-level agreement: |a - b| <= 1e-4 (1 + |b|), with NaN matching NaN. */
export function expectClose(actual: Storage, expected: Storage, label: string): void {
  expect(actual.length, `${label}: length`).toBe(expected.length);
  for (let i = 0; i < expected.length; i++) {
    const [a, b] = [actual[i], expected[i]];
    if (Number.isNaN(b) || !Number.isFinite(b)) {
      expect(Object.is(a, b) || (Number.isNaN(a) && Number.isNaN(b)), `${label}: element ${i} is ${a}, expected ${b}`).toBe(true);
      continue;
    }
    if (Math.abs(a - b) > 1e-4 * (1 + Math.abs(b))) expect(a, `${label}: element ${i}`).toBe(b);
  }
}

/** Partitions `graph` with `specs` on `mesh`, checks the program, simulates it and compares every output with the unsharded run. */
export function checkAgainstReference(
  graph: nb.Graph,
  specs: readonly nb.ShardingSpec[],
  mesh: TestMesh,
  globals: readonly Storage[],
  label: string,
  options: nb.PartitionOptions = {},
): nb.SpmdProgram {
  const program = nb.partition(graph, specs.map((spec) => ({ spec, mesh })), options);
  checkSpmdProgram(program);
  const actual = nb.runSpmd(program, globals);
  const expected = referenceRun(graph, globals);
  actual.forEach((out, i) => expectClose(out, expected[i], `${label}, output ${i}`));
  return program;
}

export function describeCase(mesh: TestMesh, specs: readonly nb.ShardingSpec[], avals: readonly Aval[]): string {
  return `mesh [${mesh.shape.join(", ")}], inputs ${avals.map((a, i) => `[${a.shape.join(", ")}] ${specs[i]}`).join(", ")}`;
}
