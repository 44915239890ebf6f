// Builders for common programs: one collective from input binding 0 to a fresh output on every device.

import { itemSize } from "../storage.js";
import type { CollectiveStep, Program } from "./program.js";
import type { MeshTopology } from "./topology.js";

/** A collective step without its buffers, which the builder binds. */
export type CollectiveSpec = CollectiveStep extends infer S ? (S extends CollectiveStep ? Omit<S, "input" | "output"> : never) : never;

/** Elements of each device's input and output for `spec` in a group of `groupSize` devices. */
export function collectiveSizes(spec: CollectiveSpec, groupSize: number): { input: number; output: number } {
  switch (spec.kind) {
    case "allReduce":
    case "broadcast":
    case "permute":
      return { input: spec.count, output: spec.count };
    case "allGather":
      return { input: spec.count, output: groupSize * spec.count };
    case "reduceScatter":
      return { input: groupSize * spec.count, output: spec.count };
    case "allToAll":
      return { input: groupSize * spec.count, output: groupSize * spec.count };
    default:
      return spec satisfies never;
  }
}

/** A program of one collective: each device takes one input buffer and returns one fresh output. */
export function collectiveProgram(topology: MeshTopology, spec: CollectiveSpec, name: string = spec.kind): Program {
  const groupSize = topology.groupOf(0, spec.axes).members.length;
  const outputBytes = collectiveSizes(spec, groupSize).output * itemSize(spec.dtype);
  const step = { ...spec, input: { binding: 0 }, output: { binding: 1 } } as CollectiveStep;
  return {
    name,
    devices: Array.from({ length: topology.deviceCount }, () => ({ inputs: 1, outputs: [outputBytes], temps: [], steps: [step] })),
  };
}
