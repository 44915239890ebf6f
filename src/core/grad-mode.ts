// Whether new nodes record gradient dependencies; `noGrad` turns recording off for a block.

let enabled = true;

export function isGradEnabled(): boolean {
  return enabled;
}

/** Runs `fn` without recording gradient dependencies, like `torch.no_grad()`. */
export function noGrad<T>(fn: () => T): T {
  const previous = enabled;
  enabled = false;
  try {
    return fn();
  } finally {
    enabled = previous;
  }
}

/** Runs `fn` with gradient dependencies recorded, like `torch.enable_grad()`, even inside `noGrad`. */
export function enableGrad<T>(fn: () => T): T {
  const previous = enabled;
  enabled = true;
  try {
    return fn();
  } finally {
    enabled = previous;
  }
}
