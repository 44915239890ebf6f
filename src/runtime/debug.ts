// The NABLA_DEBUG ladder: 1 logs compiles and cache misses, 2 prints graphs, 3 prints kernels, 4 prints kernel times.

function readLevel(): number {
  const raw = typeof process === "undefined" ? undefined : process.env.NABLA_DEBUG;
  const level = Number(raw ?? 0);
  return Number.isFinite(level) ? level : 0;
}

let level = readLevel();

/** Current debug level; 0 when NABLA_DEBUG is unset. */
export function debugLevel(): number {
  return level;
}

/** Overrides the level read from NABLA_DEBUG, for tests and scripts. */
export function setDebugLevel(value: number): void {
  level = value;
}

/** Writes `message()` to stderr when the level is at least `at`; the message is built only then. */
export function debugLog(at: number, message: () => string): void {
  if (level >= at) process.stderr.write(`[nabla] ${message()}\n`);
}
