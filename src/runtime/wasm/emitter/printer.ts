// Text form of a built module for NABLA_DEBUG=3: close to the WebAssembly text format, one instruction per line.

import type { CodeBuilder } from "./code.js";
import type { ModuleBuilder } from "./module.js";

/** Prints every import and function of `module`, indenting the bodies of block, loop and if. */
export function printModule(module: ModuleBuilder, title: string): string {
  const lines = [`(module ;; ${title}`, `  (import "env" "memory" (memory 1 65536 shared))`];
  for (const i of module.imports) {
    lines.push(`  (import "${i.module}" "${i.name}" (func (param ${i.params.join(" ")}) (result ${i.results.join(" ")})))`);
  }
  for (const f of module.functions) lines.push(...printFunction(f.name, f.code, f.exported));
  lines.push(")");
  return lines.join("\n");
}

function printFunction(name: string, code: CodeBuilder, exported: boolean): string[] {
  const params = code.params.map((p) => `(param $${p.name} ${p.type})`).join(" ");
  const results = code.results.length > 0 ? ` (result ${code.results.join(" ")})` : "";
  const lines = [`  (func $${name}${exported ? ` (export "${name}")` : ""} ${params}${results}`];
  for (const local of code.locals) lines.push(`    (local $${local.name} ${local.type})`);
  let depth = 2;
  for (const instruction of [...code.prologue, ...code.body]) {
    if (instruction.nesting < 0 || instruction.text === "else") depth--;
    lines.push(`${"  ".repeat(depth)}${instruction.text}`);
    if (instruction.nesting > 0 || instruction.text === "else") depth++;
  }
  lines.push("  )");
  return lines;
}
