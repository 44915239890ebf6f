// Whether a compile trace is running: ops then see abstract placeholders instead of data.

let depth = 0;

export function isTracing(): boolean {
  return depth > 0;
}

/** Runs `fn` with tracing marked as active. */
export function whileTracing<T>(fn: () => T): T {
  depth++;
  try {
    return fn();
  } finally {
    depth--;
  }
}
