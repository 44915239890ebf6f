// Realization: runs the pending part of the graph on the reference interpreter.

import { TracerError } from "../runtime/errors.js";
import { interpret, type Program } from "../runtime/interpreter.js";
import type { Storage } from "../runtime/storage.js";
import type { Node } from "./node.js";
import { buildProgram, scheduleGraph, scheduleSignature } from "./schedule.js";
import { formatShape } from "./shape.js";

function rejectPlaceholder(node: Node): never {
  throw new TracerError(
    `a concrete value of a traced tensor (shape ${formatShape(node.shape)}, ${node.dtype}) was requested while tracing; ` +
      "values are only known when the compiled function runs, so avoid .item(), .toArray() and data-dependent control flow inside compile",
  );
}

// Programs of recently realized graphs by structural signature, so a loop that builds the same graph
// every step prepares its program once. Bounded: the oldest entry goes first.
const programCache = new Map<string, Program>();
const programCacheLimit = 256;

/** How often eager realization built a program and how often it reused a cached one. */
export const eagerProgramStats = { builds: 0, reuses: 0 };

function cachedProgram(signature: string, build: () => Program): Program {
  const hit = programCache.get(signature);
  if (hit !== undefined) {
    eagerProgramStats.reuses++;
    return hit;
  }
  eagerProgramStats.builds++;
  const program = build();
  if (programCache.size >= programCacheLimit) programCache.delete(programCache.keys().next().value as string);
  programCache.set(signature, program);
  return program;
}

/** Computes every pending node behind `roots`. Untracked nodes then drop their inputs so the graph behind them can be freed. */
export function realizeNodes(roots: readonly Node[]): void {
  const schedule = scheduleGraph(roots, (node) => node.realized);
  for (const node of schedule.boundary) if (!node.realized) rejectPlaceholder(node);
  if (schedule.order.length === 0) return;

  const program = cachedProgram(scheduleSignature(schedule), () => buildProgram(schedule.order, schedule.boundary).program);
  const results = interpret(program, schedule.boundary.map((n) => n.buffer as Storage));

  const offset = schedule.boundary.length;
  schedule.order.forEach((node, i) => {
    node.buffer = results[offset + i];
    if (!node.tracked) node.inputs = [];
  });
}
