// The reference interpreter: runs a straight-line program of reference kernels, one step per graph node.

import { InternalError } from "./errors.js";
import type { Storage } from "./storage.js";

/** One kernel launch: reads the slots in `inputs` and writes its result to slot `output`. */
export interface Step {
  readonly label: string;
  readonly inputs: readonly number[];
  readonly output: number;
  readonly run: (inputs: readonly Storage[]) => Storage;
}

/** A straight-line program over numbered slots; `inputSlots` are filled by the caller before the steps run. */
export interface Program {
  readonly slotCount: number;
  readonly inputSlots: readonly number[];
  readonly steps: readonly Step[];
}

/** Runs `program` on `inputs` (one per input slot) and returns every slot, inputs included. */
export function interpret(program: Program, inputs: readonly Storage[]): Storage[] {
  if (inputs.length !== program.inputSlots.length) {
    throw new InternalError(`interpret: program takes ${program.inputSlots.length} inputs, got ${inputs.length}`);
  }
  const slots = new Array<Storage | undefined>(program.slotCount);
  program.inputSlots.forEach((slot, i) => (slots[slot] = inputs[i]));

  for (const step of program.steps) {
    const args = step.inputs.map((slot) => {
      const value = slots[slot];
      if (value === undefined) throw new InternalError(`interpret: step ${step.label} reads slot ${slot} before it is written`);
      return value;
    });
    slots[step.output] = step.run(args);
  }
  return slots as Storage[];
}
