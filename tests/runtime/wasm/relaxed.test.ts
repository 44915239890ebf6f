// The relaxed-SIMD path (f32x4.relaxed_madd). Node 20 enables it only with --experimental-wasm-relaxed-simd,
// so without engine support this file re-runs itself in a child process that passes the flag. The
// child uses the threads pool because worker threads share the V8 flags of their process.

import { spawnSync } from "node:child_process";
import { describe, expect, it } from "vitest";
import { relaxedSimdSupported } from "../../../src/runtime/wasm/features.js";
import { matmulKernel } from "../../../src/runtime/wasm/matmul/kernel.js";
import type { UnaryOp } from "../../../src/runtime/wasm/elementwise/ir.js";
import { maxMathError, mathBounds } from "./math-error.js";
import { newDevice, randomStorage, rng } from "./helpers.js";

const inChild = process.env.NABLA_RELAXED_CHILD === "1";

describe("relaxed SIMD path", () => {
  if (!relaxedSimdSupported()) {
    it("runs in a child with the engine flag", () => {
      expect(inChild, "the child process did not enable relaxed SIMD").toBe(false);
      const child = spawnSync(
        process.execPath,
        ["--experimental-wasm-relaxed-simd", "node_modules/vitest/vitest.mjs", "run", "--pool=threads", "tests/runtime/wasm/relaxed.test.ts"],
        { env: { ...process.env, NABLA_RELAXED_CHILD: "1" }, encoding: "utf8", timeout: 60_000 },
      );
      expect(child.status, `${child.stdout}\n${child.stderr}`).toBe(0);
    });
    return;
  }

  for (const op of Object.keys(mathBounds) as UnaryOp[]) {
    // A fused multiply-add rounds once instead of twice, which may move a result by one more ulp.
    it(`${op} within ${mathBounds[op] + 1} ulp`, () => {
      const { ulps, at } = maxMathError(op, true);
      expect(ulps, `worst at x = ${at}`).toBeLessThanOrEqual(mathBounds[op] + 1);
    });
  }

  it("matmul with relaxed_madd matches the plain path", () => {
    const device = newDevice();
    const random = rng(9);
    const [m, k, n] = [37, 65, 29];
    const a = device.upload(randomStorage(random, "float32", m * k, 1));
    const b = device.upload(randomStorage(random, "float32", k * n, 1));
    const results = [false, true].map((relaxed) => {
      const kernel = matmulKernel({ batch: 1, m, k, n, transB: true }, { relaxed });
      const c = device.alloc(m * n * 4);
      const work = device.alloc(kernel.workBytes);
      kernel.run(device.memory, a, b, c, 0, work);
      return device.read("float32", c, m * n);
    });
    for (let i = 0; i < m * n; i++) expect(Math.abs(results[0][i] - results[1][i])).toBeLessThan(1e-5);
  });
});
