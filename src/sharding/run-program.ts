// The one entry point that executes an SPMD program, so that the execution backend changes in one place.

import type { Storage } from "../runtime/storage.js";
import type { SpmdProgram } from "./program.js";
import { simulate } from "./simulate.js";

/**
 * Runs every device's local program of `program` on `localInputs` (per device, one local shard per
 * program input) on the host simulator, with reference kernels and fixed-order collectives, and
 * returns each device's local output shards. nb.shardMap runs programs for an nb.DeviceMesh on its
 * workers instead.
 */
export function runSpmdProgram(program: SpmdProgram, localInputs: readonly (readonly Storage[])[]): Storage[][] {
  return simulate(program, localInputs);
}
