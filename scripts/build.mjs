// Builds dist/ with the checkout's own TypeScript. When another project installs this checkout by path,
// npm may run this script before the checkout has its devDependencies; a built dist/ is then enough.
import { existsSync } from "node:fs";
import { createRequire } from "node:module";
import { spawnSync } from "node:child_process";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const require = createRequire(join(root, "package.json"));

let tsc;
try {
  tsc = join(dirname(require.resolve("typescript/package.json")), "bin", "tsc");
} catch {
  if (existsSync(join(root, "dist", "src", "index.js"))) process.exit(0);
  console.error(`nabla-ts: TypeScript is not installed in ${root}, so dist/ cannot be built. Run \`npm ci\` there first.`);
  process.exit(1);
}

const result = spawnSync(process.execPath, [tsc, "-p", join(root, "tsconfig.build.json")], { stdio: "inherit" });
process.exit(result.status ?? 1);
