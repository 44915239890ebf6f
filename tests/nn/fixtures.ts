// Loading the PyTorch fixtures written by scripts/make-torch-fixtures.py and comparing against them.

import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { expect } from "vitest";
import * as nb from "../../src/index.js";

export interface Encoded {
  readonly shape: number[];
  readonly dtype: string;
  readonly data: (number | boolean)[];
}

export function loadFixture<T>(name: string): T {
  const path = fileURLToPath(new URL(`../fixtures/torch/${name}.json`, import.meta.url));
  return JSON.parse(readFileSync(path, "utf8")) as T;
}

/** A fixture tensor as a nabla-ts tensor; floating data takes `floatType` (the data is exact in float32). */
export function decode(e: Encoded, floatType: "float32" | "float64" = "float32"): nb.Tensor {
  const dtype = e.dtype === "bool" ? "bool" : e.dtype.startsWith("int") ? "int64" : floatType;
  return nb.tensor(e.data.map(Number), { shape: e.shape, dtype });
}

/** PyTorch's snake_case names in our camelCase: "self_attn.in_proj_weight" -> "selfAttn.inProjWeight". */
export function camelName(torchName: string): string {
  return torchName.replace(/_([a-z0-9])/g, (_, c: string) => c.toUpperCase());
}

export function stateFromTorch(params: Record<string, Encoded>, floatType: "float32" | "float64" = "float32"): Record<string, nb.Tensor> {
  return Object.fromEntries(Object.entries(params).map(([k, v]) => [camelName(k), decode(v, floatType)]));
}

export interface Tolerance {
  readonly rtol: number;
  /** Fraction of the tensor's largest magnitude below which the error is measured against that floor instead. */
  readonly floor: number;
}

/**
 * Elementwise |actual - expected| <= rtol * max(|expected|, floor * max|expected|): relative error,
 * with entries near 0 (results of cancellation) held to an absolute bound at the tensor's scale.
 */
export function expectClose(actual: nb.Tensor, expected: Encoded, label: string, tolerance: Tolerance): void {
  expect(actual.shape, `${label} shape`).toEqual(expected.shape);
  const got = Array.from(actual.toArray(), Number);
  const want = expected.data.map(Number);
  const floor = tolerance.floor * Math.max(...want.map(Math.abs), 1e-30);
  let worst = 0;
  let worstIndex = -1;
  got.forEach((g, i) => {
    const err = Math.abs(g - want[i]) / Math.max(Math.abs(want[i]), floor);
    if (!(err <= worst)) {
      worst = err;
      worstIndex = i;
    }
  });
  const detail = worstIndex < 0 ? "" : ` (worst at ${worstIndex}: got ${got[worstIndex]}, expected ${want[worstIndex]})`;
  expect(worst, `${label}: relative error ${worst}${detail}`).toBeLessThanOrEqual(tolerance.rtol);
}
