// Kernel micro-benchmarks against peers in the same process: SIMD ceiling, matmul, a fused tanh chain
// and memory copy. Prints medians and ratios and writes bench/results/kernels.json.
// Run: npm run bench:kernels [-- --quick]. Single thread throughout; numbers depend on the host.

import { mkdirSync, writeFileSync } from "node:fs";
import { cpus } from "node:os";
import { Bench } from "tinybench";
import { DeviceMemory } from "../src/runtime/device/memory.js";
import { ceilingFlopsPerIteration, ceilingKernel } from "../src/runtime/wasm/ceiling.js";
import { binary, constant, input, unary } from "../src/runtime/wasm/elementwise/ir.js";
import { elementwiseKernel } from "../src/runtime/wasm/elementwise/kernel.js";
import { relaxedSimdSupported } from "../src/runtime/wasm/features.js";
import { copyKernel } from "../src/runtime/wasm/layout/copy.js";
import { matmulKernel } from "../src/runtime/wasm/matmul/kernel.js";
import { loadJaxJs, loadTfjs, type PeerOps } from "./kernels-peers.js";

const quick = process.argv.includes("--quick");
const matmulSizes = quick ? [256] : [256, 512, 1024];
const chainSize = 4 * 1024 * 1024;
const variants: [boolean, boolean][] = [[false, false], [false, true], [true, false], [true, true]];

interface Row {
  benchmark: string;
  unit: string;
  ours: number;
  peers: Record<string, number | null>;
  /** ours divided by the ceiling measured right before this row. */
  fractionOfCeiling?: number;
  ceiling?: number;
}

/** Median latency in milliseconds of `fn`, measured by tinybench. */
async function median(name: string, fn: () => unknown, timeMs: number): Promise<number> {
  const bench = new Bench({ time: timeMs, warmupTime: Math.min(300, timeMs), iterations: 3, warmupIterations: 2 });
  bench.add(name, fn as () => void);
  await bench.run();
  const result = bench.tasks[0].result;
  if (result.state !== "completed") throw new Error(`benchmark ${name} did not complete: ${result.state}`);
  return result.latency.p50;
}

function fill(memory: DeviceMemory, offset: number, size: number, seed: number): void {
  const view = memory.view("float32", offset, size);
  let state = seed;
  for (let i = 0; i < size; i++) {
    state = (state * 1664525 + 1013904223) >>> 0;
    view[i] = state / 2 ** 32 - 0.5;
  }
}

/** Measures the SIMD ceiling in GFLOP/s; a short run is taken next to each matmul, since shared hosts drift. */
async function measureCeiling(memory: DeviceMemory, timeMs: number): Promise<number> {
  const run = ceilingKernel(memory.memory);
  const out = memory.alloc(16);
  const iterations = 1_000_000;
  const ms = await median("ceiling", () => run(iterations, out), timeMs);
  memory.free(out);
  return (iterations * ceilingFlopsPerIteration) / (ms / 1e3) / 1e9;
}

async function measureMatmul(memory: DeviceMemory, peers: PeerOps[]): Promise<Row[]> {
  const rows: Row[] = [];
  for (const n of matmulSizes) {
    const a = memory.alloc(n * n * 4);
    const b = memory.alloc(n * n * 4);
    const c = memory.alloc(n * n * 4);
    fill(memory, a, n * n, 1);
    fill(memory, b, n * n, 2);
    const flops = 2 * n * n * n;
    let time = n >= 1024 ? 1500 : 800;
    if (quick) time = 300;
    for (const [transA, transB] of variants) {
      const label = `matmul n=${n} ${transA ? "T" : "N"}${transB ? "T" : "N"}`;
      const kernel = matmulKernel({ batch: 1, m: n, k: n, n, transA, transB });
      const work = memory.alloc(kernel.workBytes);
      const ceiling = await measureCeiling(memory, 300);
      const ours = flops / ((await median(label, () => kernel.run(memory.memory, a, b, c, 0, work), time)) / 1e3) / 1e9;
      memory.free(work);
      const peerValues: Record<string, number | null> = {};
      for (const peer of peers) {
        const fn = peer.matmul(n, transA, transB);
        peerValues[peer.name] = flops / ((await median(`${label} ${peer.name}`, fn, time)) / 1e3) / 1e9;
      }
      rows.push({ benchmark: label, unit: "GFLOP/s", ours, peers: peerValues, fractionOfCeiling: ours / ceiling, ceiling });
      console.error(`  ${label}: ${ours.toFixed(1)} GFLOP/s, ceiling measured just before: ${ceiling.toFixed(1)}`);
    }
    [a, b, c].forEach((o) => memory.free(o));
  }
  return rows;
}

async function measureChain(memory: DeviceMemory, peers: PeerOps[]): Promise<Row> {
  const x = input(0);
  const y = binary("mul", unary("tanh", binary("add", binary("mul", x, constant(1.5)), constant(0.5))), x);
  const kernel = elementwiseKernel({ shape: [chainSize], inputs: [{ dtype: "float32", strides: [1] }], outputs: [y] });
  const src = memory.alloc(chainSize * 4);
  const dst = memory.alloc(chainSize * 4);
  fill(memory, src, chainSize, 3);
  // Bytes moved: one float32 read and one written per element.
  const gbps = (ms: number): number => (chainSize * 8) / (ms / 1e3) / 1e9;
  const ours = gbps(await median("tanh chain", () => kernel.run(memory.memory, [src], [dst]), quick ? 300 : 1000));
  const peerValues: Record<string, number | null> = {};
  for (const peer of peers) peerValues[peer.name] = gbps(await median(`tanh chain ${peer.name}`, peer.tanhChain(chainSize), quick ? 300 : 1000));
  [src, dst].forEach((o) => memory.free(o));
  return { benchmark: "tanh(1.5x+0.5)*x, 4M float32", unit: "GB/s", ours, peers: peerValues };
}

/** Copy bandwidth of the dense copy kernel (one memory.copy) against TypedArray.prototype.set. */
async function measureCopy(memory: DeviceMemory): Promise<Row> {
  const src = memory.alloc(chainSize * 4);
  const dst = memory.alloc(chainSize * 4);
  fill(memory, src, chainSize, 4);
  const kernel = copyKernel({ shape: [chainSize], dtype: "float32", srcStrides: [1] });
  const gbps = (ms: number): number => (chainSize * 8) / (ms / 1e3) / 1e9;
  const ours = gbps(await median("copy", () => kernel.run(memory.memory, src, dst), quick ? 300 : 1000));
  const from = new Float32Array(chainSize).fill(1);
  const to = new Float32Array(chainSize);
  const js = gbps(await median("copy js", () => to.set(from), quick ? 300 : 1000));
  [src, dst].forEach((o) => memory.free(o));
  return { benchmark: "copy 4M float32", unit: "GB/s", ours, peers: { "js-typedarray-set": js } };
}

function printTable(rows: Row[], peerNames: string[]): void {
  const header = ["benchmark", "unit", "ours", "of ceiling", ...peerNames.flatMap((p) => [p, `ours/${p}`])];
  const lines = rows.map((r) => [
    r.benchmark, r.unit, r.ours.toFixed(2), r.fractionOfCeiling === undefined ? "" : `${(100 * r.fractionOfCeiling).toFixed(0)}%`,
    ...peerNames.flatMap((p) => {
      const v = r.peers[p];
      return v === undefined || v === null ? ["-", "-"] : [v.toFixed(2), (r.ours / v).toFixed(2)];
    }),
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...lines.map((l) => l[i].length)));
  const format = (cells: string[]): string => cells.map((cell, i) => cell.padEnd(widths[i])).join("  ");
  console.log(format(header));
  for (const line of lines) console.log(format(line));
}

interface TargetCheck {
  readonly target: string;
  readonly measured: string;
  readonly met: boolean;
}

/** Single-thread goals: every matmul row at 80% of the SIMD ceiling, the fused tanh chain at 10x the best peer. */
function checkTargets(rows: readonly Row[], peerNames: readonly string[]): TargetCheck[] {
  const matmuls = rows.filter((r) => r.fractionOfCeiling !== undefined);
  const worst = Math.min(...matmuls.map((r) => r.fractionOfCeiling as number));
  const chain = rows.find((r) => r.benchmark.startsWith("tanh"));
  const bestPeer = Math.max(...peerNames.map((p) => chain?.peers[p] ?? 0));
  const chainRatio = chain === undefined || bestPeer === 0 ? 0 : chain.ours / bestPeer;
  return [
    { target: "matmul, all four transpositions, >= 80% of the SIMD ceiling", measured: `worst row ${(100 * worst).toFixed(0)}%`, met: worst >= 0.8 },
    { target: "tanh(1.5x+0.5)*x >= 10x the best peer", measured: `${chainRatio.toFixed(1)}x`, met: chainRatio >= 10 },
  ];
}

async function main(): Promise<void> {
  const memory = new DeviceMemory({ device: "bench:0", initialBytes: 256 << 20 });
  const loaded = [await loadTfjs(), await loadJaxJs()];
  const peers = loaded.flatMap((p) => (p.ok ? [p.peer] : []));
  const failures = loaded.flatMap((p) => (p.ok ? [] : [{ name: p.name, reason: p.reason }]));
  for (const f of failures) console.error(`peer ${f.name} failed to load: ${f.reason}`);

  const ceiling = await measureCeiling(memory, quick ? 300 : 1000);
  console.error(`SIMD ceiling: ${ceiling.toFixed(1)} GFLOP/s`);
  const rows: Row[] = [{ benchmark: "SIMD ceiling (f32x4 mul+add)", unit: "GFLOP/s", ours: ceiling, peers: {} }];
  rows.push(...(await measureMatmul(memory, peers)));
  rows.push(await measureChain(memory, peers));
  rows.push(await measureCopy(memory));

  const peerNames = [...peers.map((p) => p.name), "js-typedarray-set"];
  printTable(rows, peerNames);
  const targets = checkTargets(rows, peers.map((p) => p.name));
  for (const t of targets) console.log(`target: ${t.target}: measured ${t.measured} (${t.met ? "met" : "missed"})`);
  const record = {
    date: new Date().toISOString(),
    node: process.version,
    cpu: cpus()[0]?.model ?? "unknown",
    relaxedSimd: relaxedSimdSupported(),
    quick,
    peerFailures: failures,
    rows,
    targets,
  };
  mkdirSync(new URL("./results/", import.meta.url), { recursive: true });
  writeFileSync(new URL("./results/kernels.json", import.meta.url), `${JSON.stringify(record, null, 2)}\n`);
}

await main();
