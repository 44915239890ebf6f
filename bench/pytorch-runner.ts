// PyTorch as the peer of the step benchmarks: bench/pytorch_steps.py run by Debian's /usr/bin/python3.

import { spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";

const python = "/usr/bin/python3";

/** Returns null when `python3 -c "import torch"` works, else the reason it failed. */
export function torchMissing(): string | null {
  const probe = spawnSync(python, ["-c", "import torch"], { encoding: "utf8" });
  if (probe.status === 0) return null;
  return (probe.stderr || probe.error?.message || "import torch failed").trim().split("\n").pop() ?? "";
}

/**
 * Returns the median ms per step of `model` at `threads` threads, or null after printing why it failed.
 * OMP_WAIT_POLICY=PASSIVE stops OpenMP threads from spin-waiting: with spinning, 2 threads ran slower
 * than 1 on a 2-core machine.
 */
export function torchMs(model: string, threads: number, steps: number): number | null {
  const script = fileURLToPath(new URL("./pytorch_steps.py", import.meta.url));
  const result = spawnSync(python, [script, model, String(threads), String(steps)], {
    encoding: "utf8",
    env: { ...process.env, OMP_WAIT_POLICY: "PASSIVE" },
    timeout: 600_000,
  });
  if (result.status !== 0) {
    console.error(`PyTorch ${model} at ${threads} threads failed: ${(result.stderr || String(result.error)).trim().split("\n").pop()}`);
    return null;
  }
  return (JSON.parse(result.stdout.trim().split("\n").pop() as string) as { median_ms: number }).median_ms;
}
