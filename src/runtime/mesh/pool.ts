// The piscina pool that hosts device executors, and the path of the compiled worker entry it loads.

import { existsSync, readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { Piscina } from "piscina";
import { DeviceError } from "../errors.js";

const workerRelativePath = join("dist", "src", "runtime", "mesh", "worker.js");

/**
 * Returns the compiled worker entry. Worker threads cannot load TypeScript, so the entry always comes
 * from dist/ under the package root, whether this module runs from src/ (under vitest) or from dist/.
 */
export function workerEntryPath(): string {
  const root = packageRoot(dirname(fileURLToPath(import.meta.url)));
  const path = join(root, workerRelativePath);
  if (!existsSync(path)) {
    throw new DeviceError(`the mesh worker entry ${path} is missing; run \`npm run build\` in ${root} to compile it`, -1, "", -1);
  }
  return path;
}

/** Nearest folder above `start` whose package.json names nabla-ts. */
function packageRoot(start: string): string {
  for (let folder = start; ; folder = dirname(folder)) {
    const manifest = join(folder, "package.json");
    if (existsSync(manifest) && (JSON.parse(readFileSync(manifest, "utf8")) as { name?: string }).name === "nabla-ts") return folder;
    if (dirname(folder) === folder) {
      throw new DeviceError(`no nabla-ts package.json found above ${start}, so the mesh worker entry ${workerRelativePath} cannot be located`, -1, "", -1);
    }
  }
}

/**
 * Creates a pool of exactly `threads` workers. Every executor occupies its worker for the mesh's whole
 * life, so the pool needs at least one worker per device. A smaller pool would leave devices queued
 * forever, so it is rejected.
 */
export function createPool(devices: number, threads: number): Piscina {
  if (!Number.isInteger(threads) || threads < devices) {
    throw new DeviceError(
      `a mesh of ${devices} devices needs a pool of at least ${devices} worker threads, because each device's executor occupies one thread; got threads = ${threads}. Raise threads or use a smaller mesh`,
      -1, "", -1,
    );
  }
  return new Piscina({
    filename: workerEntryPath(),
    minThreads: threads,
    maxThreads: threads,
    idleTimeout: Infinity,
    maxQueue: threads,
    recordTiming: false,
  });
}
