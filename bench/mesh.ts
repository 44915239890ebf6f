// Mesh benchmarks: allReduce bandwidth on 2 devices against a memory-copy floor, and dispatch latency.
//
// Run with `npm run bench:mesh`. Prints medians, ratios and each target as met or missed, and writes
// them to bench/results/mesh.json. The floor for an allReduce of n bytes over p devices is the time to
// move (p + 1) * n bytes, because the p inputs are read and one output is written. It uses the
// memory-copy bandwidth measured in this run for the same size.

import { mkdirSync, writeFileSync } from "node:fs";
import { cpus, loadavg } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { Worker } from "node:worker_threads";
import { Piscina } from "piscina";
import { DeviceMemory } from "../src/runtime/device/memory.js";
import { collectiveProgram } from "../src/runtime/mesh/builders.js";
import type { Program } from "../src/runtime/mesh/program.js";
import { MeshRuntime } from "../src/runtime/mesh/runtime.js";
import { CodeBuilder } from "../src/runtime/wasm/emitter/code.js";
import { ModuleBuilder } from "../src/runtime/wasm/emitter/module.js";
import { compileKernel } from "../src/runtime/wasm/kernel.js";

const here = dirname(fileURLToPath(import.meta.url));
const sizes = [1 << 10, 1 << 12, 1 << 14, 1 << 16, 1 << 18, 1 << 20, 1 << 22, 1 << 24];

/** Median of `fn`'s wall time in microseconds over enough repeats to fill about `budgetMs`. */
async function medianMicros(fn: () => unknown, budgetMs: number, minRepeats = 15, maxRepeats = 20_000): Promise<number> {
  for (let warm = 0; warm < 3; warm++) await fn();
  const times: number[] = [];
  const stop = performance.now() + budgetMs;
  while (times.length < maxRepeats && (times.length < minRepeats || performance.now() < stop)) {
    const start = performance.now();
    await fn();
    times.push((performance.now() - start) * 1000);
  }
  times.sort((a, b) => a - b);
  return times[times.length >> 1];
}

/** Median time of one Float32Array.set of `n` floats between two device memories, in microseconds. */
async function copyMicros(n: number): Promise<number> {
  const source = new DeviceMemory({ device: "bench:src", initialBytes: 4 * n + 64, capacityBytes: 4 * n + 65536 * 2 });
  const target = new DeviceMemory({ device: "bench:dst", initialBytes: 4 * n + 64, capacityBytes: 4 * n + 65536 * 2 });
  const from = source.view("float32", source.allocElements("float32", n), n);
  const to = target.view("float32", target.allocElements("float32", n), n);
  from.fill(1.5);
  return medianMicros(() => to.set(from), 300);
}

async function allReduceMicros(runtime: MeshRuntime, n: number): Promise<number> {
  const program = runtime.load(collectiveProgram(runtime.topology, { kind: "allReduce", op: "sum", axes: ["data"], dtype: "float32", count: n }));
  const inputs = runtime.memories.map((memory, d) => {
    const offset = memory.allocElements("float32", n);
    memory.view("float32", offset, n).fill(d + 0.25);
    return [offset];
  });
  const micros = await medianMicros(async () => {
    const outputs = await runtime.run(program, inputs);
    outputs.forEach((list, d) => runtime.memories[d].free(list[0]));
  }, 1500);
  inputs.forEach((list, d) => runtime.memories[d].free(list[0]));
  runtime.unload(program);
  return micros;
}

/** Builds a program whose only step on each device is a kernel that adds 1 to one float. */
function tinyKernelProgram(runtime: MeshRuntime): Program {
  const kernel = compileKernel("bench-increment", () => {
    const code = new CodeBuilder([["address", "i32"]]);
    const [address] = code.params;
    code.get(address).get(address).mem("f32.load").f32(1).op("f32.add").mem("f32.store");
    const module = new ModuleBuilder();
    module.addFunction("run", code);
    return module;
  });
  const part = { inputs: 1, outputs: [], temps: [], steps: [{ kind: "kernel", kernel: kernel.key, entry: "run", args: [{ binding: 0 }] }] } as const;
  return { name: "tiny-kernel", kernels: [kernel], devices: runtime.memories.map(() => part) };
}

async function dispatchMicros(runtime: MeshRuntime): Promise<number> {
  const program = runtime.load(tinyKernelProgram(runtime));
  const inputs = runtime.memories.map((memory) => [memory.allocElements("float32", 1)]);
  return medianMicros(() => runtime.run(program, inputs), 2000, 1000);
}

async function piscinaMicros(): Promise<number> {
  const pool = new Piscina({ filename: join(here, "echo-worker.js"), minThreads: 2, maxThreads: 2, idleTimeout: Infinity });
  try {
    return await medianMicros(() => Promise.all([pool.run(1), pool.run(2)]), 2000, 1000);
  } finally {
    await pool.destroy();
  }
}

/**
 * Measures the median round trip of a bare Atomics doorbell to two plain worker threads, which reply by
 * bumping a shared counter. This is the floor that mesh dispatch builds on, on this machine.
 */
async function doorbellMicros(): Promise<number> {
  const buffer = new SharedArrayBuffer(64 * 4);
  const control = new Int32Array(buffer);
  const slots = [16, 32];
  const workers = slots.map((slot) => new Worker(join(here, "doorbell-worker.js"), { workerData: { buffer, slot } }));
  await Promise.all(workers.map((worker) => new Promise((resolve) => worker.once("online", resolve))));
  const micros = await medianMicros(() => {
    const target = Atomics.load(control, 0) + slots.length;
    Atomics.store(control, 1, target);
    for (const slot of slots) {
      Atomics.add(control, slot, 1);
      Atomics.notify(control, slot);
    }
    for (let done = Atomics.load(control, 0); done < target; done = Atomics.load(control, 0)) Atomics.wait(control, 0, done, 1000);
  }, 2000, 1000);
  for (const slot of slots) {
    Atomics.store(control, slot, -1);
    Atomics.notify(control, slot);
  }
  await Promise.all(workers.map((worker) => new Promise((resolve) => worker.once("exit", resolve))));
  return micros;
}

/** Smallest allReduce, in floats, that the bandwidth target covers: 4 MiB of float32 and up. */
const largeFloats = 1 << 20;

interface TargetCheck {
  readonly target: string;
  readonly measured: string;
  /** Measured value over the target's limit: a fraction of the floor (at least 1 is met) or a time (at most 1 is met). */
  readonly ratio: number;
  readonly met: boolean;
}

/** Compares the measurements with the mesh targets on 2 devices. */
function checkTargets(rows: readonly { floats: number; allReduceMicros: number; ofFloor: number }[], dispatch: number): TargetCheck[] {
  const worstLarge = Math.min(...rows.filter((row) => row.floats >= largeFloats).map((row) => row.ofFloor));
  const small = rows.find((row) => row.floats === 1024)?.allReduceMicros ?? Number.NaN;
  return [
    { target: "allReduce of 1M floats and up at >= 60% of the copy floor", measured: `worst row ${(100 * worstLarge).toFixed(0)}% of the floor`, ratio: worstLarge / 0.6, met: worstLarge >= 0.6 },
    { target: "allReduce of 1K floats in < 20 us", measured: `${small.toFixed(1)} us`, ratio: small / 20, met: small < 20 },
    { target: "dispatch round trip median < 20 us", measured: `${dispatch.toFixed(1)} us`, ratio: dispatch / 20, met: dispatch < 20 },
  ];
}

async function main(): Promise<void> {
  const runtime = new MeshRuntime([2], ["data"], { capacityBytes: 2 ** 30 });
  const p = 2;
  const rows: { floats: number; allReduceMicros: number; copyMicros: number; floorMicros: number; ofFloor: number; gbPerSecond: number }[] = [];
  try {
    console.log(`allReduce sum of float32 on ${p} devices (median of repeats; floor = (p+1)*n bytes at the measured copy bandwidth)`);
    console.log("floats        allReduce us   copy us    floor us   floor/time   algorithm GB/s");
    for (const n of sizes) {
      const copy = await copyMicros(n);
      // One copy moves 2 * 4n bytes (a read and a write), so the floor of (p + 1) * 4n bytes takes (p + 1) / 2 copies.
      const floor = ((p + 1) / 2) * copy;
      const time = await allReduceMicros(runtime, n);
      const row = { floats: n, allReduceMicros: time, copyMicros: copy, floorMicros: floor, ofFloor: floor / time, gbPerSecond: (4 * n) / time / 1000 };
      rows.push(row);
      console.log(
        `${String(n).padEnd(12)}  ${time.toFixed(1).padStart(11)}  ${copy.toFixed(1).padStart(8)}  ${floor.toFixed(1).padStart(9)}  ${(100 * row.ofFloor).toFixed(0).padStart(10)}%  ${row.gbPerSecond.toFixed(2).padStart(14)}`,
      );
    }
    const dispatch = await dispatchMicros(runtime);
    const piscina = await piscinaMicros();
    const doorbell = await doorbellMicros();
    console.log(`\ndispatch round trip, cached program with one tiny kernel on 2 devices: median ${dispatch.toFixed(1)} us`);
    console.log(`piscina round trip, two concurrent plain tasks on 2 threads:           median ${piscina.toFixed(1)} us`);
    console.log(`bare Atomics doorbell round trip to 2 plain worker threads:            median ${doorbell.toFixed(1)} us`);
    console.log(`ratio piscina / mesh dispatch: ${(piscina / dispatch).toFixed(2)}x; mesh dispatch / bare doorbell: ${(dispatch / doorbell).toFixed(2)}x`);
    const targets = checkTargets(rows, dispatch);
    console.log(`\ntargets on ${p} devices (ratio = measured / target; a floor fraction needs >= 1, a time <= 1):`);
    for (const t of targets) console.log(`target: ${t.target}: measured ${t.measured}, ratio ${t.ratio.toFixed(2)} (${t.met ? "met" : "missed"})`);
    const record = {
      date: new Date().toISOString(),
      node: process.version,
      cpus: cpus().length,
      cpuModel: cpus()[0]?.model ?? "unknown",
      // Other processes compete for the same cores and memory bus; a load above the core count inflates every number.
      loadAverageAtEnd: loadavg(),
      devices: p,
      allReduce: rows,
      dispatchMicros: dispatch,
      piscinaMicros: piscina,
      doorbellMicros: doorbell,
      targets,
    };
    const results = join(here, "..", "..", "bench", "results");
    mkdirSync(results, { recursive: true });
    writeFileSync(join(results, "mesh.json"), `${JSON.stringify(record, null, 2)}\n`);
    console.log(`\nload average ${loadavg().map((load) => load.toFixed(2)).join(", ")} on ${cpus().length} cores; numbers are inflated when it exceeds the core count`);
    console.log(`wrote ${join(results, "mesh.json")}`);
  } finally {
    await runtime.dispose();
  }
}

await main();
