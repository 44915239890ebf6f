import { fileURLToPath } from "node:url";
import { defineConfig } from "vitest/config";

export default defineConfig({
  resolve: {
    // Examples import the package by name; tests run them against the sources, never a stale dist/.
    alias: [
      { find: /^nabla-ts\/cli$/, replacement: fileURLToPath(new URL("./src/cli/index.ts", import.meta.url)) },
      { find: /^nabla-ts$/, replacement: fileURLToPath(new URL("./src/index.ts", import.meta.url)) },
    ],
  },
  test: {
    include: ["tests/**/*.test.ts"],
    testTimeout: 60_000,
  },
});
