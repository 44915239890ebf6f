// Running the same computation on the wasm and reference backends, and counting kernel launches.

import * as nb from "../../src/index.js";
import { launchCounts } from "../../src/compiler/wasm/executor.js";
import { Rng } from "./random.js";

export type Backend = "wasm" | "reference";

/** Runs `run` on `backend`, then returns to the default backend. */
export function onBackend<T>(backend: Backend, run: () => T): T {
  nb.setBackend(backend);
  try {
    return run();
  } finally {
    nb.setBackend(undefined);
  }
}

/** Runs `run` on both backends, each time from the same seed. */
export function onBoth<T>(run: (rng: Rng) => T, seed = 11): { wasm: T; reference: T } {
  return { wasm: onBackend("wasm", () => run(new Rng(seed))), reference: onBackend("reference", () => run(new Rng(seed))) };
}

/** Launch counts by kernel label during `run`, on the wasm backend. */
export function launchesDuring(run: () => void): Map<string, number> {
  const before = new Map(launchCounts);
  onBackend("wasm", run);
  const delta = new Map<string, number>();
  for (const [label, count] of launchCounts) {
    const added = count - (before.get(label) ?? 0);
    if (added > 0) delta.set(label, added);
  }
  return delta;
}
