// `nabla-ts bench`: runs the benchmark scripts of a source checkout, or prints how to.

import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { type FlagTable, formatFlags, parseFlags, UsageError } from "../args.js";

const suites = ["kernels", "mesh", "training", "all"];

const benchFlags: FlagTable = {
  suite: { kind: "string", accepted: suites.join(", "), help: "which benchmarks to run (default all)" },
  print: { kind: "boolean", accepted: "no value", help: "print the npm command instead of running it" },
};

export const benchHelp = `Usage: nabla-ts bench [flags]

Runs the benchmarks of a nabla-ts source checkout (\`npm run bench\` and its parts). They need the
checkout's devDependencies (\`npm ci\`); an installed package has no benchmarks.

Flags:
${formatFlags(benchFlags)}`;

/** Finds the package root: the nearest folder above this file that contains a package.json. */
function packageRoot(): string {
  let folder = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(folder, "package.json")) && dirname(folder) !== folder) folder = dirname(folder);
  return folder;
}

export function runBench(argv: readonly string[]): number {
  const flags = parseFlags("bench", argv, benchFlags);
  if (flags.help === true) {
    console.log(benchHelp);
    return 0;
  }
  const suite = (flags.suite as string | undefined) ?? "all";
  if (!suites.includes(suite)) throw new UsageError(`--suite ${suite} is invalid; accepted values: ${suites.join(", ")}`);
  const script = suite === "all" ? "bench" : `bench:${suite}`;
  const root = packageRoot();
  const runnable = existsSync(join(root, "bench")) && existsSync(join(root, "node_modules", "tinybench"));
  if (flags.print === true || !runnable) {
    if (!runnable) console.log(`The benchmarks need a source checkout with its devDependencies; ${root} has none.`);
    console.log(`In a nabla-ts checkout run: npm ci && npm run ${script}`);
    return 0;
  }
  const npm = process.platform === "win32" ? "npm.cmd" : "npm";
  return spawnSync(npm, ["run", script], { cwd: root, stdio: "inherit" }).status ?? 1;
}
