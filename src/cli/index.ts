// The nabla-ts command line (`nabla-ts train|info|bench`) and the training job behind `train`.

import * as nb from "nabla-ts";
import { runBench } from "./commands/bench.js";
import { packageVersion, runInfo } from "./commands/info.js";
import { runTrain } from "./commands/train.js";
import { UsageError } from "./args.js";

export { UsageError, parseFlags, type FlagTable } from "./args.js";
export { trainFlags, trainHelp, trainOptionsFrom, runTrain } from "./commands/train.js";
export { infoLines } from "./commands/info.js";
export { train, type TrainResult } from "./spam/job.js";
export { defaultTrainOptions, type TrainOptions } from "./spam/options.js";
export { parseMeshShape, planLayout, rowsPerDevice } from "./spam/mesh.js";
export { loadEmails, stratifiedSplit, tokenize, visibleText, Vocabulary, encodeSplit, makeBatch, type Email } from "./spam/data.js";
export { listCheckpoints, loadCheckpoint, type Checkpoint } from "./spam/checkpoint.js";
export { scores } from "./spam/metrics.js";

export const usage = `Usage: nabla-ts <command> [flags]

Commands:
  train   train the Transformer spam classifier on the SpamAssassin corpus
  info    print the Node.js version, cores, WebAssembly SIMD support and the default mesh shape
  bench   run the benchmarks of a source checkout, or print how

Run \`nabla-ts <command> --help\` for a command's flags, \`nabla-ts --version\` for the version.`;

/** Runs one command; resolves to the process exit code. Errors of nabla-ts print as one line and exit with 2 (usage) or 1. */
export async function runCli(argv: readonly string[]): Promise<number> {
  const [command, ...rest] = argv;
  try {
    switch (command) {
      case "train":
        await runTrain(rest);
        return 0;
      case "info":
        runInfo(rest);
        return 0;
      case "bench":
        return runBench(rest);
      case "--version":
        console.log(packageVersion());
        return 0;
      case undefined:
      case "--help":
      case "help":
        console.log(usage);
        return command === undefined ? 2 : 0;
      default:
        throw new UsageError(`unknown command "${command}"; accepted commands: train, info, bench`);
    }
  } catch (error) {
    if (!(error instanceof nb.NablaError)) throw error;
    console.error(`nabla-ts: ${error.name}: ${error.message}`);
    return error instanceof UsageError ? 2 : 1;
  }
}
