// Tables and records of bench/versus-pytorch.ts: ms per step, throughput, the speed-up of every mesh
// shape over [1] and the time ratios against PyTorch, printed and written under bench/results/.

import { execFileSync } from "node:child_process";
import { mkdirSync, writeFileSync } from "node:fs";
import { cpus, loadavg } from "node:os";

/** One subject of one benchmark: a nabla-ts mesh shape or a PyTorch thread count. */
export interface Measurement {
  readonly benchmark: string;
  readonly subject: string;
  readonly shape?: number[];
  readonly threads?: number;
  readonly examplesPerStep: number;
  /** Loss of the first step; every nabla-ts shape starts from the same weights and batch. */
  readonly firstLoss?: number;
  /** Median ms per step of each round; null where PyTorch failed. */
  readonly perRound: (number | null)[];
}

export interface ReportOptions {
  readonly rounds: number;
  readonly quick: boolean;
  readonly smoke: boolean;
  readonly torchMissing: string | null;
  /** os.loadavg() when the run started; above the core count means other work shared the machine. */
  readonly loadAverageAtStart: number[];
}

function median(values: readonly number[]): number | null {
  if (values.length === 0) return null;
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

/** Median over rounds of `ours / peer` in time, each ratio taken within one round; below 1 means `ours` is faster. */
function timeRatio(ours: Measurement, peer: Measurement): number | null {
  const perRound = ours.perRound.flatMap((value, round) => {
    const other = peer.perRound[round];
    return value === null || other === null || other === undefined ? [] : [value / other];
  });
  return median(perRound);
}

function msPerStep(m: Measurement): number | null {
  return median(m.perRound.filter((v): v is number => v !== null));
}

const fixed = (value: number | null, digits: number): string => (value === null ? "-" : value.toFixed(digits));

/** Rows of the main table: ms/step, examples/s and the speed-up over nabla-ts [1] (its time / this time). */
function stepRows(measurements: readonly Measurement[]): string[][] {
  return measurements.map((m) => {
    const one = measurements.find((o) => o.benchmark === m.benchmark && o.shape?.every((d) => d === 1));
    const ms = msPerStep(m);
    const speedUp = one === undefined || one === m ? null : timeRatio(one, m);
    return [m.benchmark, m.subject, fixed(ms, 2), ms === null ? "-" : ((m.examplesPerStep * 1000) / ms).toFixed(0), m === one ? "1.00" : fixed(speedUp, 2), fixed(m.firstLoss ?? null, 5)];
  });
}

/** Rows of the PyTorch table: nabla-ts time / PyTorch time for every nabla-ts shape and PyTorch thread count. */
function ratioRows(measurements: readonly Measurement[]): string[][] {
  const rows: string[][] = [];
  for (const ours of measurements.filter((m) => m.shape !== undefined)) {
    const peers = measurements.filter((m) => m.benchmark === ours.benchmark && m.threads !== undefined);
    if (peers.length > 0) rows.push([ours.benchmark, ours.subject, ...peers.map((peer) => fixed(timeRatio(ours, peer), 2))]);
  }
  return rows;
}

const stepHeader = ["benchmark", "subject", "ms/step", "examples/s", "speed-up over [1]", "first loss"];
const ratioHeader = ["benchmark", "nabla-ts", "/ PyTorch 1 thread", "/ PyTorch 2 threads"];

function printTable(header: readonly string[], rows: readonly string[][]): void {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  for (const row of [header, ...rows]) console.log(row.map((cell, i) => cell.padEnd(widths[i])).join("  ").trimEnd());
  console.log();
}

function markdownTable(header: readonly string[], rows: readonly string[][]): string {
  return [`| ${header.join(" | ")} |`, `|${header.map(() => "---").join("|")}|`, ...rows.map((r) => `| ${r.join(" | ")} |`)].join("\n");
}

/** Returns the checked-out commit, with "-dirty" when tracked files differ from it, or "unknown" outside git. */
function currentCommit(): string {
  try {
    return execFileSync("git", ["describe", "--always", "--dirty"], { encoding: "utf8", stdio: ["ignore", "pipe", "ignore"] }).trim();
  } catch {
    return "unknown";
  }
}

/** Prints both tables and, unless this is a smoke run, writes the JSON record and the markdown tables. */
export function report(measurements: readonly Measurement[], options: ReportOptions): void {
  const steps = stepRows(measurements);
  const ratios = ratioRows(measurements);
  printTable(stepHeader, steps);
  if (ratios.length > 0) {
    console.log("nabla-ts time / PyTorch time (below 1: nabla-ts is faster)");
    printTable(ratioHeader, ratios);
  }
  if (options.smoke) return;
  const record = {
    date: new Date().toISOString(), node: process.version, cpu: cpus()[0]?.model ?? "unknown", cores: cpus().length,
    commit: currentCommit(), loadAverageAtEnd: loadavg(), ...options, measurements,
  };
  const markdown = `${markdownTable(stepHeader, steps)}\n\n${ratios.length > 0 ? `${markdownTable(ratioHeader, ratios)}\n` : ""}`;
  mkdirSync(new URL("./results/", import.meta.url), { recursive: true });
  writeFileSync(new URL("./results/versus-pytorch.json", import.meta.url), `${JSON.stringify(record, null, 2)}\n`);
  writeFileSync(new URL("./results/versus-pytorch.md", import.meta.url), markdown);
}
