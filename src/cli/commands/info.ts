// `nabla-ts info`: the runtime facts that decide how nabla-ts runs on this machine.

import { availableParallelism } from "node:os";
import * as nb from "nabla-ts";
import { formatFlags, parseFlags } from "../args.js";

export const infoHelp = `Usage: nabla-ts info

Prints the Node.js version, the number of cores, WebAssembly SIMD and relaxed-SIMD support and the
default mesh shape (one device per core on an axis named "data").

Flags:
${formatFlags({})}`;

export function infoLines(): string[] {
  const cores = availableParallelism();
  const features = nb.wasmFeatures();
  const yesNo = (b: boolean): string => (b ? "yes" : "no");
  return [
    `nabla-ts ${process.env.npm_package_version ?? ""}`.trim(),
    `Node.js: ${process.version} (V8 ${process.versions.v8})`,
    `Platform: ${process.platform} ${process.arch}`,
    `Cores: ${cores}`,
    `WebAssembly SIMD: ${yesNo(features.simd)}`,
    `WebAssembly relaxed SIMD: ${yesNo(features.relaxedSimd)}${features.relaxedSimd ? "" : " (Node 20 needs --experimental-wasm-relaxed-simd)"}`,
    `Default mesh shape: [${cores}] on axis "data"`,
    `Backend: ${process.env.NABLA_BACKEND ?? "wasm"}`,
  ];
}

export function runInfo(argv: readonly string[]): void {
  const flags = parseFlags("info", argv, {});
  console.log(flags.help === true ? infoHelp : infoLines().join("\n"));
}
