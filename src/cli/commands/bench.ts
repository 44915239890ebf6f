// `nabla-ts bench`: runs the benchmarks of a source checkout, or prints how to.

import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { type FlagTable, formatFlags, parseFlags, UsageError } from "../args.js";

/** Suites by name, with the npm script that runs each. */
const suites: Readonly<Record<string, string>> = {
  steps: "bench",
  kernels: "bench:kernels",
  mesh: "bench:mesh",
  training: "bench:training",
  all: "bench:all",
};

const benchFlags: FlagTable = {
  suite: {
    kind: "string", accepted: Object.keys(suites).join(", "),
    help: "steps (default): training steps per mesh shape beside PyTorch; kernels, mesh, training: the micro benchmarks; all: every suite",
  },
  mesh: { kind: "string", hint: "shapes", accepted: "comma-separated mesh shapes, axes joined by x (for example 1,2 or 1,2,2x2)", help: "mesh shapes of the steps suite (default 1); [1] is always measured" },
  rounds: { kind: "integer", accepted: "a positive integer", help: "rounds of the steps suite, each measuring every subject once (default 1)", check: (v) => v >= 1 },
  quick: { kind: "boolean", accepted: "no value", help: "time fewer steps" },
  smoke: { kind: "boolean", accepted: "no value", help: "steps suite: one short benchmark without PyTorch that writes no results" },
  print: { kind: "boolean", accepted: "no value", help: "print the npm command instead of running it" },
};

export const benchHelp = `Usage: nabla-ts bench [flags]

Runs the benchmarks of a nabla-ts source checkout (\`npm run bench\` and its parts). They need the
checkout's devDependencies (\`npm ci\`); an installed package has no benchmarks. The steps suite
runs three training steps compiled on every requested mesh shape and prints ms/step, examples/s and
the speed-up over [1], and PyTorch at 1 and 2 threads when /usr/bin/python3 can import torch.

Flags:
${formatFlags(benchFlags)}`;

/** Finds the package root: the nearest folder above this file that contains a package.json. */
function packageRoot(): string {
  let folder = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(folder, "package.json")) && dirname(folder) !== folder) folder = dirname(folder);
  return folder;
}

/** Returns the arguments after `npm run <script> --` that pass the steps suite's flags on. */
function stepsArguments(flags: Record<string, unknown>, suite: string): string[] {
  const passed = ["mesh", "rounds", "quick", "smoke"].filter((name) => flags[name] !== undefined);
  if (passed.length > 0 && suite !== "steps") throw new UsageError(`--${passed[0]} applies only to --suite steps, not --suite ${suite}; drop it or choose --suite steps`);
  const args = passed.flatMap((name) => (flags[name] === true ? [`--${name}`] : [`--${name}`, String(flags[name])]));
  return args.length > 0 ? ["--", ...args] : [];
}

export function runBench(argv: readonly string[]): number {
  const flags = parseFlags("bench", argv, benchFlags);
  if (flags.help === true) {
    console.log(benchHelp);
    return 0;
  }
  const suite = (flags.suite as string | undefined) ?? "steps";
  const script = suites[suite];
  if (script === undefined) throw new UsageError(`--suite ${suite} is invalid; accepted values: ${Object.keys(suites).join(", ")}`);
  const npmArgs = ["run", script, ...stepsArguments(flags, suite)];
  const root = packageRoot();
  const runnable = existsSync(join(root, "bench")) && existsSync(join(root, "node_modules", "tinybench"));
  if (flags.print === true || !runnable) {
    if (!runnable) console.log(`The benchmarks need a source checkout with its devDependencies; ${root} has none.`);
    console.log(`In a nabla-ts checkout run: npm ci && npm ${npmArgs.join(" ")}`);
    return 0;
  }
  const npm = process.platform === "win32" ? "npm.cmd" : "npm";
  return spawnSync(npm, npmArgs, { cwd: root, stdio: "inherit" }).status ?? 1;
}
