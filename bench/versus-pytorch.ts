// nabla-ts against PyTorch on the same training steps, for every requested mesh shape: the seed
// Transformer, a larger Transformer (d_model 256, 8 heads, 4 layers, feed-forward 1024, seq 64, batch
// 64) and a 784-1024-1024-10 MLP at batch 256. nabla-ts runs each step compiled, data-parallel on the
// mesh (batch split by rows, parameters replicated); PyTorch runs at 1 and 2 threads through
// bench/pytorch_steps.py when /usr/bin/python3 can import torch. Writes bench/results/versus-pytorch.{json,md}.
//
// Flags: --mesh 1,2 (shapes, axes joined by x), --rounds N, --quick (fewer steps), --smoke (one short
// benchmark without PyTorch and without writing results, for CI).

import { loadavg } from "node:os";
import { BenchUsageError, describeShape, openBenchLayout, parseMeshList, type BenchLayout } from "./mesh-layouts.js";
import { torchMissing, torchMs } from "./pytorch-runner.js";
import { type Measurement, report } from "./versus-pytorch-report.js";
import { smokeCases, stepCases, type StepCase } from "./step-cases.js";

interface Options {
  readonly meshes: number[][];
  readonly rounds: number;
  readonly quick: boolean;
  readonly smoke: boolean;
}

function flagValue(argv: readonly string[], name: string): string | undefined {
  const at = argv.indexOf(name);
  if (at < 0) return undefined;
  const value = argv[at + 1];
  if (value === undefined || value.startsWith("--")) throw new BenchUsageError(`${name} needs a value`);
  return value;
}

function parseOptions(argv: readonly string[]): Options {
  const known = new Set(["--mesh", "--rounds", "--quick", "--smoke"]);
  const unknown = argv.filter((arg, i) => arg.startsWith("--") && !known.has(arg) && !["--mesh", "--rounds"].includes(argv[i - 1]));
  if (unknown.length > 0) throw new BenchUsageError(`unknown flag ${unknown[0]}; accepted flags: ${[...known].join(", ")}`);
  const rawRounds = flagValue(argv, "--rounds") ?? "1";
  const rounds = Number(rawRounds);
  if (!Number.isInteger(rounds) || rounds < 1) throw new BenchUsageError(`--rounds ${rawRounds} is invalid; accepted values: a positive integer`);
  const rawMesh = flagValue(argv, "--mesh");
  const smoke = argv.includes("--smoke");
  return { meshes: parseMeshList(rawMesh ?? (smoke ? "1,2" : "1")), rounds, quick: argv.includes("--quick"), smoke };
}

/** Runs `run` `steps` times after `warmup` untimed calls and returns the median milliseconds. */
function medianMs(run: () => number, steps: number, warmup: number): number {
  for (let i = 0; i < warmup; i++) run();
  const times: number[] = [];
  for (let i = 0; i < steps; i++) {
    const start = performance.now();
    run();
    times.push(performance.now() - start);
  }
  times.sort((a, b) => a - b);
  return times[Math.floor(times.length / 2)];
}

interface Subject {
  readonly measurement: Measurement;
  readonly measure: (round: number) => number | null;
}

/** Builds one subject per case and mesh shape, which compiles the step and records its first loss. */
function nablaSubjects(cases: readonly StepCase[], layouts: readonly BenchLayout[]): Subject[] {
  return cases.flatMap((c) =>
    layouts.map((layout) => {
      const run = c.setup(layout);
      const measurement: Measurement = {
        benchmark: c.name, subject: `nabla-ts ${describeShape(layout.shape)}`, shape: [...layout.shape],
        examplesPerStep: c.examplesPerStep, firstLoss: run(), perRound: [],
      };
      console.error(`  ${c.name} / ${measurement.subject}: first loss ${measurement.firstLoss?.toFixed(5)}`);
      return { measurement, measure: (round: number) => medianMs(run, c.steps, round === 0 ? 1 : 0) };
    }),
  );
}

function torchSubjects(cases: readonly StepCase[]): Subject[] {
  return cases.flatMap((c) =>
    [1, 2].map((threads) => ({
      measurement: { benchmark: c.name, subject: `PyTorch ${threads} thread${threads > 1 ? "s" : ""}`, threads, examplesPerStep: c.examplesPerStep, perRound: [] },
      measure: () => torchMs(c.torchName, threads, c.steps),
    })),
  );
}

async function main(): Promise<void> {
  const loadAverageAtStart = loadavg();
  const options = parseOptions(process.argv.slice(2));
  const cases = options.smoke ? smokeCases() : stepCases(options.quick);
  const missing = options.smoke ? "not run in a smoke run" : torchMissing();
  if (options.smoke) console.log("Smoke run: one short benchmark, without PyTorch; results are not written.");
  else if (missing !== null) console.log(`PyTorch comparison skipped: /usr/bin/python3 cannot import torch (${missing}); install python3-torch and libopenblas0-pthread`);

  const layouts: BenchLayout[] = [];
  try {
    for (const shape of options.meshes) layouts.push(await openBenchLayout(shape));
    const subjects = [...nablaSubjects(cases, layouts), ...(missing === null ? torchSubjects(cases) : [])];
    // Each round measures every subject once, in turn, so a slow spell on a shared host hits one round of all subjects.
    for (let round = 0; round < options.rounds; round++) {
      for (const subject of subjects) {
        const ms = subject.measure(round);
        subject.measurement.perRound.push(ms);
        console.error(`  round ${round + 1}: ${subject.measurement.benchmark} / ${subject.measurement.subject}: ${ms === null ? "failed" : `${ms.toFixed(2)} ms`}`);
      }
    }
    report(subjects.map((s) => s.measurement), { ...options, torchMissing: missing, loadAverageAtStart });
  } finally {
    for (const layout of layouts) await layout.mesh?.dispose();
  }
}

try {
  await main();
} catch (error) {
  if (!(error instanceof BenchUsageError)) throw error;
  console.error(`bench: ${error.message}`);
  process.exitCode = 2;
}
