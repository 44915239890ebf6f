// Executors turn a scheduled graph into a runnable plan. The reference executor interprets it in plain
// TypeScript; faster backends register themselves from the compiler layer when the package loads.

import { interpret } from "../runtime/interpreter.js";
import type { Storage } from "../runtime/storage.js";
import type { Node } from "./node.js";
import { buildProgram, type Schedule } from "./schedule.js";

/** A prepared computation: given one buffer per boundary node, returns one buffer per requested output. */
export interface ExecutionPlan {
  run(inputs: readonly Storage[]): Storage[];
}

export interface Executor {
  readonly name: string;
  /** Prepares `schedule` so that `run` returns the buffers of `outputs` (nodes of the order or the boundary). */
  plan(schedule: Schedule, outputs: readonly Node[]): ExecutionPlan;
}

export const referenceExecutor: Executor = {
  name: "reference",
  plan(schedule, outputs) {
    const { program, slots } = buildProgram(schedule.order, schedule.boundary);
    const outputSlots = outputs.map((n) => slots.get(n) as number);
    return {
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

let forcedBackend: string | undefined = typeof process === "undefined" ? undefined : process.env.NABLA_BACKEND;

/** Selects the backend by name ("reference" or "wasm"); overrides NABLA_BACKEND. */
export function setBackend(name: "reference" | "wasm" | undefined): void {
  forcedBackend = name;
}

/** The executor realization and compile use now. */
export function activeExecutor(): Executor {
  if (forcedBackend === "reference" || fastExecutor === undefined) return referenceExecutor;
  return fastExecutor;
}
