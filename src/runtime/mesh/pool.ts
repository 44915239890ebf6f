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
 * life, so resolveOptions rejects pools with fewer threads than devices.
 */
export function createPool(threads: number): Piscina {
  return new Piscina({
    filename: workerEntryPath(),
    minThreads: threads,
    maxThreads: threads,
    idleTimeout: Infinity,
    maxQueue: threads,
    recordTiming: false,
  });
}

/** The parts of piscina's per-worker record that PoolKeepAlive uses. */
interface WorkerRecord {
  readonly port: { unref(): void };
}

let warnedKeepAlive = false;

/**
 * Lets Node exit while a pool's workers sit in their executor loops. Piscina unrefs its Worker objects
 * but refs each worker's message port while a task runs, and an executor task runs for the mesh's whole
 * life, so an undisposed mesh would keep the process alive. `release` unrefs those ports, and piscina
 * refs a port again only when it posts a task.
 *
 * NOTE: piscina 5.3 has no public API for this. The per-worker record is read from the interface object
 * passed to its 'workerCreate' event, under the symbol described "Piscina.kWorkerData". When that is
 * missing, the mesh emits a one-time warning that an undisposed mesh keeps Node running.
 */
export class PoolKeepAlive {
  readonly #pool: Piscina;
  readonly #records = new Set<WorkerRecord>();

  /** `isIdle` returns true when no run is pending; a worker created then is released at once. */
  constructor(pool: Piscina, isIdle: () => boolean) {
    this.#pool = pool;
    pool.on("workerCreate", (worker: object) => {
      const record = workerRecord(worker);
      if (record === undefined) return warnKeepAlive();
      this.#records.add(record);
      if (isIdle()) record.port.unref();
    });
    pool.on("workerDestroy", (worker: object) => {
      const record = workerRecord(worker);
      if (record !== undefined) this.#records.delete(record);
    });
  }

  /** Unrefs every worker and its message port, so only a pending run keeps the process alive. */
  release(): void {
    for (const record of this.#records) record.port.unref();
    for (const worker of this.#pool.threads) worker.unref();
  }
}

function workerRecord(worker: object): WorkerRecord | undefined {
  const symbol = Object.getOwnPropertySymbols(worker).find((candidate) => candidate.description === "Piscina.kWorkerData");
  const record: unknown = symbol === undefined ? undefined : (worker as Record<symbol, unknown>)[symbol];
  const port: unknown = typeof record === "object" && record !== null ? (record as { port?: unknown }).port : undefined;
  if (typeof port !== "object" || port === null || typeof (port as { unref?: unknown }).unref !== "function") return undefined;
  return record as WorkerRecord;
}

function warnKeepAlive(): void {
  if (warnedKeepAlive) return;
  warnedKeepAlive = true;
  process.emitWarning(
    "nabla-ts cannot unref the mesh's piscina worker ports (piscina's internals changed), so a DeviceMesh that is not disposed keeps Node running; call mesh.dispose()",
    { code: "NABLA_MESH_KEEPALIVE" },
  );
}
