// Flag parsing for the CLI: `--name value`, `--name=value` and boolean flags, checked against a table.

import * as nb from "nabla-ts";

/** One flag of a command: its kind, the accepted values (for the error message) and the help line. */
export interface FlagSpec {
  readonly kind: "integer" | "number" | "string" | "boolean" | "optional-string";
  /** The accepted values, as the error message and the help show them (for example "a positive integer"). */
  readonly accepted: string;
  readonly help: string;
  /** Placeholder of the value in the help, such as "shape"; by default derived from the kind. */
  readonly hint?: string;
  /** Extra check of a parsed value; returns false to reject it. */
  readonly check?: (value: number) => boolean;
}

export type FlagTable = Readonly<Record<string, FlagSpec>>;
export type ParsedFlags = Record<string, number | string | boolean>;

/** The error of a bad command line; its message names the flag and the accepted values. */
export class UsageError extends nb.ValueError {}

/** Parses `argv` against `flags` (names without the leading dashes). `--help` is always accepted. */
export function parseFlags(command: string, argv: readonly string[], flags: FlagTable): ParsedFlags {
  const out: ParsedFlags = {};
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (!arg.startsWith("--")) {
      const previous = i > 0 ? flags[argv[i - 1].slice(2)] : undefined;
      const hint = previous?.kind === "optional-string" ? `; to give ${argv[i - 1]} a value, write ${argv[i - 1]}=${arg}` : "";
      throw new UsageError(`${command}: unexpected argument "${arg}"${hint}; flags start with --, see \`nabla-ts ${command} --help\``);
    }
    const eq = arg.indexOf("=");
    const name = arg.slice(2, eq < 0 ? undefined : eq);
    if (name === "help") {
      out.help = true;
      continue;
    }
    const spec = flags[name];
    if (spec === undefined) {
      const known = [...Object.keys(flags).map((f) => `--${f}`), "--help"].join(", ");
      throw new UsageError(`${command}: unknown flag --${name}; accepted flags: ${known}`);
    }
    if (spec.kind === "boolean" || (spec.kind === "optional-string" && eq < 0)) {
      if (eq >= 0) throw new UsageError(`--${name} takes no value; pass it alone`);
      out[name] = true;
      continue;
    }
    let raw: string | undefined = eq >= 0 ? arg.slice(eq + 1) : argv[++i];
    if (raw === undefined || (eq < 0 && raw.startsWith("--"))) raw = undefined;
    if (raw === undefined || raw === "") throw new UsageError(`--${name} needs a value: ${spec.accepted}`);
    out[name] = parseValue(name, raw, spec);
  }
  return out;
}

function parseValue(name: string, raw: string, spec: FlagSpec): number | string {
  if (spec.kind === "string" || spec.kind === "optional-string") return raw;
  const value = Number(raw);
  const valid = Number.isFinite(value) && (spec.kind !== "integer" || Number.isInteger(value)) && (spec.check?.(value) ?? true);
  if (!valid) throw new UsageError(`--${name} ${raw} is invalid; accepted values: ${spec.accepted}`);
  return value;
}

function valueHint(spec: FlagSpec): string {
  if (spec.hint !== undefined) return ` <${spec.hint}>`;
  if (spec.kind === "boolean") return "";
  if (spec.kind === "optional-string") return "[=FILE]";
  if (spec.kind === "string") return spec.accepted.includes(",") ? ` <${spec.accepted.replace(/, /g, "|")}>` : " <path>";
  return ` <${spec.kind}>`;
}

/** Formats the flag table as help lines. */
export function formatFlags(flags: FlagTable): string {
  const rows = Object.entries(flags).map(([name, spec]) => {
    return [`--${name}${valueHint(spec)}`, spec.help];
  });
  rows.push(["--help", "print this help and exit"]);
  const width = Math.max(...rows.map(([left]) => left.length)) + 2;
  return rows.map(([left, right]) => `  ${left.padEnd(width)}${right}`).join("\n");
}
