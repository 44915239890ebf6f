// Runs one compiled example by name: `npm run example -- transformer-jax-style`.
import { readdirSync, existsSync } from "node:fs";
import { spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import { dirname, join } from "node:path";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const folder = join(root, "dist", "examples");
const available = existsSync(folder)
  ? readdirSync(folder).filter((f) => f.endsWith(".js")).map((f) => f.slice(0, -3)).sort()
  : [];
const [name, ...rest] = process.argv.slice(2);

if (name === undefined || !available.includes(name)) {
  const given = name === undefined ? "no example name" : `unknown example "${name}"`;
  console.error(`${given}. Available: ${available.join(", ")}`);
  console.error("Usage: npm run example -- <name> [args]");
  process.exit(2);
}

const result = spawnSync(process.execPath, [join(folder, `${name}.js`), ...rest], { stdio: "inherit" });
process.exit(result.status ?? 1);
