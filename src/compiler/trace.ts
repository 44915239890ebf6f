// Tracing: runs the user function once on abstract placeholders and captures the graph as a program.

import { Node, type Aval } from "../core/node.js";
import { formatGraph } from "../core/print-graph.js";
import { treeFlatten, treeUnflatten, type TreeDef } from "../core/pytree.js";
import { activeExecutor, type ExecutionPlan } from "../core/executor.js";
import { scheduleGraph } from "../core/schedule.js";
import { tensorOf } from "../core/tensor.js";
import { whileTracing } from "../core/trace-state.js";
import { debugLog } from "../runtime/debug.js";
import { TracerError } from "../runtime/errors.js";
import type { Storage } from "../runtime/storage.js";

/** A traced function: run `plan` on the argument buffers followed by `constants`; it returns the output buffers. */
export interface TracedProgram {
  readonly plan: ExecutionPlan;
  readonly constants: readonly Storage[];
  readonly outputAvals: readonly Aval[];
  readonly outTreedef: TreeDef;
  readonly opCount: number;
}

/**
 * Calls `fn` with its arguments rebuilt from `treedef` with placeholders for `avals` as leaves.
 * Raises TracerError when `fn` needs a concrete value.
 */
export function traceFunction(
  fn: (...args: never[]) => unknown,
  treedef: TreeDef,
  avals: readonly Aval[],
  label: string,
): TracedProgram {
  const placeholders = avals.map((aval) => Node.placeholder(aval));
  const args = treeUnflatten(treedef, placeholders.map(tensorOf)) as never[];
  const out = whileTracing(() => fn(...args));

  const { leaves, treedef: outTreedef } = treeFlatten(out);
  const outNodes = leaves.map((t) => t.node);
  const schedule = scheduleGraph(outNodes, (node) => node.kind !== "op" || node.realized);

  const known = new Set(placeholders);
  const constants = schedule.boundary.filter((n) => n.kind !== "placeholder");
  for (const node of schedule.boundary) {
    if (node.kind === "placeholder" && !known.has(node)) {
      throw new TracerError(`compile: ${label} returned a value traced by another compiled function; return only values computed from this call's arguments`);
    }
  }

  const boundary = [...placeholders, ...constants];
  debugLog(2, () => `traced ${label}:\n${formatGraph(schedule.order, boundary, outNodes)}`);
  return {
    plan: activeExecutor().plan({ order: schedule.order, boundary }, outNodes),
    constants: constants.map((n) => n.buffer as Storage),
    outputAvals: outNodes.map((n) => ({ shape: n.shape, dtype: n.dtype })),
    outTreedef,
    opCount: schedule.order.length,
  };
}

/** Traces `fn` on placeholders rebuilt into `treedef`; returns the graph and the output structure. */
export function traceTree(fn: (...args: never[]) => unknown, treedef: TreeDef, avals: readonly Aval[]): Graph & { readonly out: unknown; readonly outTreedef: TreeDef } {
  const inputs = avals.map((aval) => Node.placeholder(aval));
  const args = treeUnflatten(treedef, inputs.map(tensorOf)) as never[];
  const out = whileTracing(() => fn(...args));
  const { leaves, treedef: outTreedef } = treeFlatten(out);
  return { inputs, outputs: leaves.map((t) => t.node), out, outTreedef };
}

/** A traced graph: the placeholders in argument order and the flattened output nodes. */
export interface Graph {
  readonly inputs: readonly Node[];
  readonly outputs: readonly Node[];
}

/** Traces `fn` on one placeholder per aval and returns the graph, for the partitioner and tests. */
export function traceGraph(fn: (...args: never[]) => unknown, avals: readonly Aval[]): Graph {
  const inputs = avals.map((aval) => Node.placeholder(aval));
  const out = whileTracing(() => fn(...(inputs.map(tensorOf) as never[])));
  return { inputs, outputs: treeFlatten(out).leaves.map((t) => t.node) };
}
