import { describe, expect, it } from "vitest";
import type { UnaryOp } from "../../../src/runtime/wasm/elementwise/ir.js";
import { mathBounds as bounds, maxMathError as maxError } from "./math-error.js";

describe("float32 vector math", () => {
  for (const op of Object.keys(bounds) as UnaryOp[]) {
    it(`${op} within ${bounds[op]} ulp over the float32 range`, () => {
      const { ulps, at } = maxError(op, false);
      expect(ulps, `worst at x = ${at}`).toBeLessThanOrEqual(bounds[op]);
    });
  }
});

