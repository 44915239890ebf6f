// End-to-end training benchmarks against JavaScript peers in the same process: an MLP SGD step, one
// eager add, and the Transformer classifier of examples/. Prints medians and ratios and writes
// bench/results/training.json. Run: npm run bench:training [-- --quick]. Single thread throughout.

import { execFileSync } from "node:child_process";
import { mkdirSync, writeFileSync } from "node:fs";
import { cpus, loadavg } from "node:os";
import * as nb from "nabla-ts";
import { Bench } from "tinybench";
import { makeSyntheticTask, TransformerClassifier, type ClassifierConfig } from "../examples/lib/transformer-classifier.js";
import { functionalStep, imperativeStep, learningRate } from "../examples/lib/training.js";
import { makeMlpData, mlpLearningRate, transposed, type MlpData } from "./training-data.js";
import { loadJaxJs, loadTfjs, type TrainingPeer } from "./training-peers.js";
import { seededValues } from "./seeded-data.js";

const quick = process.argv.includes("--quick");
/** Free text stored in the record, for example what else ran on the host: `-- --note "text"`. */
const noteIndex = process.argv.indexOf("--note");
const note = noteIndex >= 0 ? process.argv[noteIndex + 1] ?? "" : "";
/** Each subject is measured once per round, in turn, so a disturbance hits one round rather than one subject. */
const rounds = quick ? 1 : 5;
const addSize = 1000;

interface Row {
  benchmark: string;
  /** Implementation: "nabla-ts eager", "tfjs-wasm", ... */
  subject: string;
  unit: "ms" | "us";
  /** Median over rounds of the per-round tinybench medians. */
  median: number;
  perRound: number[];
  /** Loss of the first step, to check that the implementations compute the same thing. */
  firstLoss?: number;
}

/** Median latency in milliseconds of `fn`, measured by tinybench after a warm-up. */
async function measure(name: string, fn: () => unknown, timeMs: number, minIterations: number): Promise<number> {
  const bench = new Bench({ time: timeMs, warmupTime: Math.min(500, timeMs), iterations: minIterations, warmupIterations: 3 });
  bench.add(name, fn as () => void);
  await bench.run();
  const result = bench.tasks[0].result;
  if (result.state !== "completed") throw new Error(`benchmark ${name} did not complete: ${result.state}`);
  return result.latency.p50;
}

function middle(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

/** The 1-minute load average at the start of every round: above the core count means other work ran. */
const loadPerRound: { benchmark: string; round: number; loadAverage1m: number }[] = [];

interface Subject {
  readonly name: string;
  readonly fn: () => unknown;
  readonly firstLoss?: number;
}

/** Measures every subject `rounds` times, interleaved, and returns one row per subject. */
async function measureRounds(benchmark: string, subjects: Subject[], unit: "ms" | "us", timeMs: number, minIterations: number): Promise<Row[]> {
  const perRound = subjects.map(() => [] as number[]);
  for (let round = 0; round < rounds; round++) {
    loadPerRound.push({ benchmark, round: round + 1, loadAverage1m: loadavg()[0] });
    for (const [i, subject] of subjects.entries()) {
      const ms = await measure(`${benchmark} ${subject.name}`, subject.fn, timeMs, minIterations);
      perRound[i].push(unit === "us" ? ms * 1e3 : ms);
      console.error(`  ${benchmark} / ${subject.name}, round ${round + 1}: ${perRound[i].at(-1)?.toFixed(3)} ${unit}`);
    }
  }
  return subjects.map((subject, i) => ({
    benchmark, subject: subject.name, unit, median: middle(perRound[i]), perRound: perRound[i], firstLoss: subject.firstLoss,
  }));
}

class Mlp extends nb.nn.Module {
  hidden: nb.nn.Linear;
  out: nb.nn.Linear;

  constructor(data: MlpData) {
    super();
    const [inputs, hidden, classes] = data.sizes;
    this.hidden = new nb.nn.Linear(inputs, hidden);
    this.out = new nb.nn.Linear(hidden, classes);
    this.loadStateDict({
      "hidden.weight": nb.tensor(transposed(data.w1, inputs, hidden), { shape: [hidden, inputs] }),
      "hidden.bias": nb.tensor(data.b1),
      "out.weight": nb.tensor(transposed(data.w2, hidden, classes), { shape: [classes, hidden] }),
      "out.bias": nb.tensor(data.b2),
    });
  }

  override forward(x: nb.Tensor): nb.Tensor {
    return this.out.call(nb.relu(this.hidden.call(x)));
  }
}

function mlpLoss(model: Mlp, x: nb.Tensor, y: nb.Tensor): nb.Tensor {
  return nb.nn.functional.crossEntropyLoss(model.call(x), y);
}

/** PyTorch style: zeroGrad, forward, backward, SGD step, then read the loss. */
function nablaEagerMlp(data: MlpData): () => number {
  const model = new Mlp(data);
  const optimizer = new nb.nn.optim.SGD(model, { lr: mlpLearningRate });
  const x = nb.tensor(data.x, { shape: [data.batch, data.sizes[0]] });
  const y = nb.tensor(data.yOneHot, { shape: [data.batch, data.sizes[2]] });
  return () => {
    model.zeroGrad();
    const loss = mlpLoss(model, x, y);
    loss.backward();
    optimizer.step();
    return loss.item();
  };
}

/** JAX style: a pure valueAndGrad + sgdUpdate step under nb.compile, replayed on every call. */
function nablaCompiledMlp(data: MlpData): { fn: () => number; stats: () => string } {
  let model = new Mlp(data);
  let state = nb.nn.optim.sgdInit(model);
  const x = nb.tensor(data.x, { shape: [data.batch, data.sizes[0]] });
  const y = nb.tensor(data.yOneHot, { shape: [data.batch, data.sizes[2]] });
  const step = nb.compile((m: Mlp, s: nb.nn.optim.SgdState, xs: nb.Tensor, ys: nb.Tensor) => {
    const [loss, grads] = nb.valueAndGrad(mlpLoss, { argnums: 0 })(m, xs, ys) as [nb.Tensor, Mlp];
    const [next, nextState] = nb.nn.optim.sgdUpdate(m, grads, s, { lr: mlpLearningRate });
    return [next, nextState, loss] as const;
  }, { fallback: "error" });
  return {
    fn: () => {
      let loss: nb.Tensor;
      [model, state, loss] = step(model, state, x, y);
      return loss.item();
    },
    stats: () => String(step.stats),
  };
}

async function benchMlp(data: MlpData, peers: TrainingPeer[]): Promise<{ rows: Row[]; compileStats: string }> {
  const compiled = nablaCompiledMlp(data);
  const candidates: { name: string; fn: () => unknown }[] = [
    { name: "nabla-ts eager", fn: nablaEagerMlp(data) },
    { name: "nabla-ts compiled", fn: compiled.fn },
    ...peers.map((peer) => ({ name: peer.name, fn: peer.mlpStep(data) })),
  ];
  // The first call of each step also checks that all implementations start from the same loss.
  const subjects: Subject[] = [];
  for (const candidate of candidates) subjects.push({ ...candidate, firstLoss: Number(await candidate.fn()) });
  const rows = await measureRounds("MLP 784-256-10 SGD step, batch 128", subjects, "ms", quick ? 1500 : 3000, 30);
  return { rows, compileStats: compiled.stats() };
}

async function benchAdd(peers: TrainingPeer[]): Promise<Row[]> {
  const a = nb.tensor(seededValues(addSize, 1));
  const b = nb.tensor(seededValues(addSize, 2));
  const subjects: Subject[] = [
    { name: "nabla-ts eager", fn: () => nb.add(a, b).toArray() },
    ...peers.map((peer) => ({ name: peer.name, fn: peer.eagerAdd(addSize) })),
  ];
  return measureRounds(`add of two ${addSize}-element float32 tensors, realized`, subjects, "us", quick ? 500 : 1500, 200);
}

const transformerConfig: ClassifierConfig = {
  vocabSize: 20, dModel: 32, numHeads: 4, numLayers: 2, numClasses: 3, maxLen: 8, dimFeedforward: 64,
};

/** Eager PyTorch-style and compiled JAX-style steps of the examples' Transformer classifier. */
function transformerSubjects(): { eager: () => number; compiled: () => number } {
  nb.random.seed(0);
  const task = makeSyntheticTask(42, 150, transformerConfig.maxLen, transformerConfig.vocabSize, transformerConfig.numClasses);
  const eagerModel = new TransformerClassifier(transformerConfig);
  const optimizer = new nb.nn.optim.AdamW(eagerModel, { lr: learningRate });

  let model = new TransformerClassifier(transformerConfig);
  model.eval();
  let state = nb.nn.optim.adamwInit(model);
  const step = nb.compile(functionalStep);
  return {
    eager: () => imperativeStep(eagerModel, optimizer, task.tokens, task.labelsOneHot).item(),
    compiled: () => {
      let loss: nb.Tensor;
      [model, state, loss] = step(model, state, task.tokens, task.labelsOneHot);
      return loss.item();
    },
  };
}

async function benchTransformer(): Promise<Row[]> {
  const { eager, compiled } = transformerSubjects();
  const subjects: Subject[] = [
    { name: "nabla-ts eager", fn: eager, firstLoss: eager() },
    { name: "nabla-ts compiled", fn: compiled, firstLoss: compiled() },
  ];
  return measureRounds("Transformer classifier AdamW step (wasm backend)", subjects, "ms", quick ? 1500 : 3000, 20);
}

/** Times a few steps on the reference interpreter by hand, because each step takes hundreds of milliseconds. */
function benchTransformerReference(steps: number): Row[] {
  nb.setBackend("reference");
  try {
    const { eager, compiled } = transformerSubjects();
    const rows: Row[] = [];
    for (const [name, fn] of [["nabla-ts eager", eager], ["nabla-ts compiled", compiled]] as const) {
      const firstLoss = fn();
      const times: number[] = [];
      for (let i = 0; i < steps; i++) {
        const start = performance.now();
        fn();
        times.push(performance.now() - start);
      }
      console.error(`  Transformer reference / ${name}: ${times.map((t) => t.toFixed(1)).join(", ")} ms`);
      rows.push({ benchmark: "Transformer classifier AdamW step (reference backend)", subject: name, unit: "ms", median: middle(times), perRound: times, firstLoss });
    }
    return rows;
  } finally {
    nb.setBackend(undefined);
  }
}

interface Ratio {
  benchmark: string;
  ours: string;
  peer: string;
  /** Median over rounds of ours / peer in time, each taken within one round: below 1 means nabla-ts is faster. */
  ratio: number;
  perRound: number[];
}

/** Per-round ratios, so that a slow spell on a shared host cancels out when it hits both subjects of a round. */
function ratio(benchmark: string, ours: Row, peer: Row, oursLabel = ours.subject, peerLabel = peer.subject): Ratio {
  const rounds = Math.min(ours.perRound.length, peer.perRound.length);
  const perRound = Array.from({ length: rounds }, (_, i) => ours.perRound[i] / peer.perRound[i]);
  return { benchmark, ours: oursLabel, peer: peerLabel, ratio: middle(perRound), perRound };
}

/** Ratios of the best nabla-ts row to each peer row, and of the reference backend to the wasm backend. */
function ratios(rows: Row[]): Ratio[] {
  const out: Ratio[] = [];
  const benchmarks = [...new Set(rows.map((r) => r.benchmark))];
  for (const benchmark of benchmarks) {
    const group = rows.filter((r) => r.benchmark === benchmark);
    const ours = group.filter((r) => r.subject.startsWith("nabla-ts"));
    const best = ours.reduce((a, b) => (b.median < a.median ? b : a), ours[0]);
    for (const peer of group.filter((r) => !r.subject.startsWith("nabla-ts"))) {
      out.push(ratio(benchmark, best, peer));
    }
  }
  const wasm = rows.filter((r) => r.benchmark.includes("wasm backend"));
  for (const reference of rows.filter((r) => r.benchmark.includes("reference backend"))) {
    const match = wasm.find((r) => r.subject === reference.subject);
    if (match !== undefined) {
      // The two backends ran at different times, so this is a ratio of medians, not per round.
      out.push({
        benchmark: "Transformer classifier: wasm / reference", ours: `${match.subject} (wasm)`, peer: `${reference.subject} (reference)`,
        ratio: match.median / reference.median, perRound: [],
      });
    }
  }
  return out;
}

/** Goals: the MLP step at least 2x faster than jax-js with jit; an eager small add within 2x of tfjs's per-op cost. */
function checkTargets(ratioRows: readonly Ratio[]): { target: string; measured: string; met: boolean }[] {
  const find = (benchmark: string, peer: string): Ratio | undefined => ratioRows.find((r) => r.benchmark.startsWith(benchmark) && r.peer.startsWith(peer));
  const mlp = find("MLP", "jax-js");
  const add = find("add of two", "tfjs");
  return [
    { target: "MLP step time <= 0.5x jax-js (jit)", measured: mlp === undefined ? "not measured" : `${mlp.ratio.toFixed(2)}x`, met: mlp !== undefined && mlp.ratio <= 0.5 },
    { target: "eager add per-op time <= 2x tfjs", measured: add === undefined ? "not measured" : `${add.ratio.toFixed(2)}x`, met: add !== undefined && add.ratio <= 2 },
  ];
}

function printTables(rows: Row[], ratioRows: Ratio[]): void {
  const table = (header: string[], lines: string[][]): void => {
    const widths = header.map((h, i) => Math.max(h.length, ...lines.map((l) => l[i].length)));
    const format = (cells: string[]): string => cells.map((cell, i) => cell.padEnd(widths[i])).join("  ");
    console.log(format(header));
    for (const line of lines) console.log(format(line));
    console.log();
  };
  table(
    ["benchmark", "subject", "median", "unit", "rounds", "first loss"],
    rows.map((r) => [r.benchmark, r.subject, r.median.toFixed(3), r.unit, r.perRound.map((v) => v.toFixed(2)).join(" "), r.firstLoss?.toFixed(5) ?? ""]),
  );
  table(
    ["benchmark", "ours", "peer", "ours/peer", "rounds"],
    ratioRows.map((r) => [r.benchmark, r.ours, r.peer, r.ratio.toFixed(3), r.perRound.map((v) => v.toFixed(2)).join(" ")]),
  );
}

/** Returns the checked-out commit, with "-dirty" when tracked files differ from it, or "unknown" outside git. */
function currentCommit(): string {
  try {
    return execFileSync("git", ["describe", "--always", "--dirty"], { encoding: "utf8", stdio: ["ignore", "pipe", "ignore"] }).trim();
  } catch {
    return "unknown";
  }
}

async function main(): Promise<void> {
  const loadBefore = loadavg();
  const loaded = [await loadTfjs(), await loadJaxJs()];
  const peers = loaded.flatMap((p) => (p.ok ? [p.peer] : []));
  const failures = loaded.flatMap((p) => (p.ok ? [] : [{ name: p.name, reason: p.reason }]));
  for (const f of failures) console.error(`peer ${f.name} failed to load: ${f.reason}`);

  const mlp = await benchMlp(makeMlpData(), peers);
  const rows = [...mlp.rows, ...(await benchAdd(peers)), ...(await benchTransformer()), ...benchTransformerReference(quick ? 2 : 3)];
  const ratioRows = ratios(rows);
  printTables(rows, ratioRows);
  console.log(`MLP compiled step cache: ${mlp.compileStats}`);
  const targets = checkTargets(ratioRows);
  for (const t of targets) console.log(`target: ${t.target}: measured ${t.measured} (${t.met ? "met" : "missed"})`);

  const record = {
    date: new Date().toISOString(),
    node: process.version,
    cpu: cpus()[0]?.model ?? "unknown",
    cores: cpus().length,
    commit: currentCommit(),
    note,
    quick,
    rounds,
    loadAverage: { before: loadBefore, after: loadavg(), perRound: loadPerRound },
    peerFailures: failures,
    mlpCompileStats: mlp.compileStats,
    rows,
    ratios: ratioRows,
    targets,
  };
  mkdirSync(new URL("./results/", import.meta.url), { recursive: true });
  writeFileSync(new URL("./results/training.json", import.meta.url), `${JSON.stringify(record, null, 2)}\n`);
}

await main();
