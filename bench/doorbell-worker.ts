// Bare doorbell worker for the latency floor in bench/mesh.ts. It replies to each ring by bumping a
// shared counter (slot 0), and wakes the main thread only when the counter reaches the target in slot 1.

import { workerData } from "node:worker_threads";

const { buffer, slot } = workerData as { buffer: SharedArrayBuffer; slot: number };
const control = new Int32Array(buffer);
let seen = 0;
for (;;) {
  Atomics.wait(control, slot, seen, 1000);
  const rung = Atomics.load(control, slot);
  if (rung === seen) continue;
  if (rung < 0) break;
  seen = rung;
  if (Atomics.add(control, 0, 1) + 1 >= Atomics.load(control, 1)) Atomics.notify(control, 0);
}
