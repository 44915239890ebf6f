// Realization: runs the pending part of the graph on the active executor.

import { TracerError } from "../runtime/errors.js";
import type { Storage } from "../runtime/storage.js";
import type { Node } from "./node.js";
import { activeExecutor, type ExecutionPlan } from "./executor.js";
import { scheduleGraph, scheduleSignature } from "./schedule.js";
import { formatShape } from "./shape.js";

function rejectPlaceholder(node: Node): never {
  throw new TracerError(
    `a concrete value of a traced tensor (shape ${formatShape(node.shape)}, ${node.dtype}) was requested while tracing; ` +
      "values are only known when the compiled function runs, so avoid .item(), .toArray() and data-dependent control flow inside compile",
  );
}

// Plans of recently realized graphs by executor and structural signature, so a loop that builds the
// same graph every step prepares its plan once. Bounded: the oldest entry goes first.
const planCache = new Map<string, ExecutionPlan>();
const planCacheLimit = 256;

/** How often eager realization built a plan and how often it reused a cached one. */
export const eagerProgramStats = { builds: 0, reuses: 0 };

function cachedPlan(key: string, build: () => ExecutionPlan): ExecutionPlan {
  const hit = planCache.get(key);
  if (hit !== undefined) {
    eagerProgramStats.reuses++;
    return hit;
  }
  eagerProgramStats.builds++;
  const plan = build();
  if (planCache.size >= planCacheLimit) planCache.delete(planCache.keys().next().value as string);
  planCache.set(key, plan);
  return plan;
}

/**
 * Computes every pending node behind `roots`. The roots and every intermediate the executor put in a
 * buffer of its own keep their buffers; untracked ones then drop their inputs. Fused intermediates
 * keep their inputs instead, so a backward pass or a later read computes them again.
 */
export function realizeNodes(roots: readonly Node[]): void {
  const schedule = scheduleGraph(roots, (node) => node.realized);
  for (const node of schedule.boundary) if (!node.realized) rejectPlaceholder(node);
  if (schedule.order.length === 0) return;

  const rootSet = new Set(roots);
  const positions: number[] = [];
  schedule.order.forEach((node, i) => {
    if (rootSet.has(node)) positions.push(i);
  });
  const kept = positions.map((i) => schedule.order[i]);
  const executor = activeExecutor();
  const key = `${executor.name}|${scheduleSignature(schedule)}|keep:${positions.join(",")}`;
  const plan = cachedPlan(key, () => executor.plan(schedule, kept, { keepMaterialized: true }));
  const results = plan.run(schedule.boundary.map((n) => n.buffer as Storage));

  const receivers = [...kept, ...plan.extras.map((i) => schedule.order[i])];
  receivers.forEach((node, i) => {
    node.buffer = results[i];
    if (!node.tracked) node.inputs = [];
  });
}
