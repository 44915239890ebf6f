// Piscina worker entry: each task is one device's executor, which runs until the mesh stops it.
//
// NOTE: worker threads load this file from dist/ (dist/src/runtime/mesh/worker.js), so `npm run build`
// must run after every change to the executor or the files it imports.

import { runExecutor } from "./executor.js";
import type { ExecutorTask } from "./messages.js";

export default function meshWorker(task: ExecutorTask): number {
  return runExecutor(task);
}
