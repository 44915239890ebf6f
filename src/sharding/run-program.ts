// The one entry point that executes an SPMD program, so that the execution backend changes in one place.

import type { Storage } from "../runtime/storage.js";
import type { SpmdProgram } from "./program.js";
import { simulate } from "./simulate.js";

/**
 * Runs every device's local program of `program` on `localInputs` (per device, one local shard per
 * program input) and returns each device's local output shards.
 * TODO: run on the worker threads of the mesh when `program.mesh` is an nb.DeviceMesh. Every program
 * runs on the host simulator for now, with reference kernels and fixed-order collectives.
 */
export function runSpmdProgram(program: SpmdProgram, localInputs: readonly (readonly Storage[])[]): Storage[][] {
  return simulate(program, localInputs);
}
