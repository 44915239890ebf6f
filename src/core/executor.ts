// Executors turn a scheduled graph into a runnable plan. The reference executor interprets it in plain
// TypeScript; faster backends register themselves from the compiler layer when the package loads.

import { ValueError } from "../runtime/errors.js";
import { interpret } from "../runtime/interpreter.js";
import type { Storage } from "../runtime/storage.js";
import type { Node } from "./node.js";
import { buildProgram, type Schedule } from "./schedule.js";

/**
 * A prepared computation: given one buffer per boundary node, `run` returns one buffer per requested
 * output, followed by one per entry of `extras` (positions in the schedule's order).
 */
export interface ExecutionPlan {
  run(inputs: readonly Storage[]): Storage[];
  /** Intermediates the plan computes into buffers anyway and returns too, so nothing has to compute them again. */
  readonly extras: readonly number[];
}

export interface PlanOptions {
  /** Also return every intermediate that ends up in a buffer of its own (eager realization wants them). */
  readonly keepMaterialized?: boolean;
}

export interface Executor {
  readonly name: string;
  /** Prepares `schedule` so that `run` returns the buffers of `outputs` (nodes of the order or the boundary). */
  plan(schedule: Schedule, outputs: readonly Node[], options?: PlanOptions): ExecutionPlan;
}

export const referenceExecutor: Executor = {
  name: "reference",
  plan(schedule, outputs, options = {}) {
    const { program, slots } = buildProgram(schedule.order, schedule.boundary);
    const requested = new Set(outputs);
    const extras = options.keepMaterialized === true ? schedule.order.flatMap((n, i) => (requested.has(n) ? [] : [i])) : [];
    const outputSlots = [...outputs, ...extras.map((i) => schedule.order[i])].map((n) => slots.get(n) as number);
    return {
      extras,
      run(inputs) {
        const results = interpret(program, inputs);
        return outputSlots.map((slot) => results[slot]);
      },
    };
  },
};

let fastExecutor: Executor | undefined;

/** Installs the default fast executor; NABLA_BACKEND=reference still selects the reference interpreter. */
export function installExecutor(executor: Executor): void {
  fastExecutor = executor;
}

const backends = ["reference", "wasm"];
const environmentBackend = readEnvironmentBackend();

function readEnvironmentBackend(): string | undefined {
  const value = typeof process === "undefined" ? undefined : process.env.NABLA_BACKEND;
  if (value === undefined || value === "" || backends.includes(value)) return value || undefined;
  throw new ValueError(`NABLA_BACKEND=${JSON.stringify(value)} is not a backend; use one of ${backends.join(", ")}`);
}
let forcedBackend: string | undefined = environmentBackend;

/** Selects the backend by name ("reference" or "wasm"); `undefined` goes back to NABLA_BACKEND or the default. */
export function setBackend(name: "reference" | "wasm" | undefined): void {
  forcedBackend = name ?? environmentBackend;
}

/** Returns the executor that realization and compile use now. */
export function activeExecutor(): Executor {
  if (forcedBackend === "reference" || fastExecutor === undefined) return referenceExecutor;
  return fastExecutor;
}
