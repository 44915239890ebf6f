#!/usr/bin/env node
// Entry point of the `nabla-ts` bin.

import { runCli } from "./index.js";

process.exitCode = runCli(process.argv.slice(2));
