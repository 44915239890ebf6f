#!/usr/bin/env node
// Entry point of the `nabla-ts` bin.

import { runCli } from "./index.js";

process.exitCode = await runCli(process.argv.slice(2));
