// `nabla-ts info`: the runtime facts that decide how nabla-ts runs on this machine.

import { existsSync, readFileSync } from "node:fs";
import { availableParallelism } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import * as nb from "nabla-ts";
import { formatFlags, parseFlags } from "../args.js";

export const infoHelp = `Usage: nabla-ts info

Prints the Node.js version, the number of cores, WebAssembly SIMD and relaxed-SIMD support and the
default mesh shape (one device per core on an axis named "data").

Flags:
${formatFlags({})}`;

/** The version in nabla-ts's own package.json, found by walking up from this file. */
export function packageVersion(): string {
  for (let folder = dirname(fileURLToPath(import.meta.url)); dirname(folder) !== folder; folder = dirname(folder)) {
    const manifest = join(folder, "package.json");
    if (!existsSync(manifest)) continue;
    const parsed = JSON.parse(readFileSync(manifest, "utf8")) as { name?: string; version?: string };
    if (parsed.name === "nabla-ts") return parsed.version ?? "unknown";
  }
  return "unknown";
}

export function infoLines(): string[] {
  const cores = availableParallelism();
  const features = nb.wasmFeatures();
  const yesNo = (b: boolean): string => (b ? "yes" : "no");
  return [
    `nabla-ts ${packageVersion()}`,
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
