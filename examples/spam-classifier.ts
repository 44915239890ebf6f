// The real-data training job: a Transformer spam classifier on the SpamAssassin corpus, with a
// logistic-regression baseline, checkpoints and exact resume. Flags: `--help`.

import { runCli } from "nabla-ts/cli";

process.exitCode = await runCli(["train", ...process.argv.slice(2)]);
