import { describe, expect, it } from "vitest";
import { reduce } from "../../../src/runtime/reference/reduce.js";
import { layerNormBackwardKernel, layerNormForwardKernel } from "../../../src/runtime/wasm/rows/layernorm.js";
import { crossEntropyKernel, softmaxKernel } from "../../../src/runtime/wasm/rows/softmax.js";
import { newDevice, randomStorage, rng, sizes } from "./helpers.js";

const device = newDevice();

function expectNear(actual: ArrayLike<number>, expected: ArrayLike<number>, tolerance: number, label: string): void {
  expect(actual.length).toBe(expected.length);
  for (let i = 0; i < expected.length; i++) {
    const e = expected[i];
    const ok = Number.isNaN(e) ? Number.isNaN(actual[i]) : Math.abs(actual[i] - e) <= tolerance * Math.max(1, Math.abs(e));
    if (!ok) expect.fail(`${label}: element ${i} is ${actual[i]}, expected ${e}`);
  }
}

/** Row maxima and log-sum-exp computed in float64 with the reference max reduction. */
function rowStats(x: Float32Array, rows: number, cols: number): { max: Float64Array; logSum: Float64Array } {
  const max = Float64Array.from(reduce(x, [rows, cols], [1], "max", "float64"));
  const logSum = new Float64Array(rows);
  for (let r = 0; r < rows; r++) {
    let s = 0;
    for (let j = 0; j < cols; j++) s += Math.exp(x[r * cols + j] - max[r]);
    logSum[r] = Math.log(s);
  }
  return { max, logSum };
}

describe("row kernels", () => {
  it("softmax and logSoftmax at every width", () => {
    const random = rng(1);
    for (const cols of sizes) {
      const rows = 3;
      const x = randomStorage(random, "float32", rows * cols, 8) as Float32Array;
      if (cols > 4) x[2] = NaN;
      const { max, logSum } = rowStats(x, rows, cols);
      for (const kind of ["softmax", "logSoftmax"] as const) {
        const input = device.upload(x);
        const output = device.alloc(x.byteLength);
        softmaxKernel(kind, rows, cols).run(device.memory, input, output);
        const actual = device.read("float32", output, x.length);
        const expected = Array.from(x, (v, i) => {
          const r = Math.floor(i / cols);
          const log = v - max[r] - logSum[r];
          return kind === "softmax" ? Math.exp(log) : log;
        });
        expectNear(actual, expected, 1e-6 * 4, `${kind} cols=${cols}`);
        device.free(input);
        device.free(output);
      }
    }
  });

  it("cross-entropy and its label check", () => {
    const random = rng(2);
    const rows = 5;
    const cols = 17;
    const x = randomStorage(random, "float32", rows * cols, 5) as Float32Array;
    const labels = Int32Array.from({ length: rows }, () => Math.floor(random() * cols));
    const { max, logSum } = rowStats(x, rows, cols);
    const offsets = [device.upload(x), device.upload(labels), device.alloc(rows * 4)];
    const kernel = crossEntropyKernel(rows, cols);
    expect(kernel.run(device.memory, offsets[0], offsets[1], offsets[2])).toBe(0);
    const expected = Array.from(labels, (label, r) => max[r] + logSum[r] - x[r * cols + label]);
    expectNear(device.read("float32", offsets[2], rows), expected, 4e-6, "crossEntropy");
    device.view("int32", offsets[1], rows)[3] = cols;
    expect(kernel.run(device.memory, offsets[0], offsets[1], offsets[2])).toBe(4);
    offsets.forEach((o) => device.free(o));
  });

  it("layer norm forward and backward", () => {
    const random = rng(3);
    const eps = 1e-5;
    for (const cols of sizes) {
      const rows = 6;
      const x = randomStorage(random, "float32", rows * cols) as Float32Array;
      for (let i = 0; i < x.length; i++) x[i] += 10; // an offset mean exercises the two-pass variance
      const gamma = randomStorage(random, "float32", cols);
      const beta = randomStorage(random, "float32", cols);
      const dy = randomStorage(random, "float32", rows * cols);
      const o = [x, gamma, beta].map((d) => device.upload(d));
      const [y, mean, rstd] = [rows * cols, rows, rows].map((n) => device.alloc(n * 4));
      layerNormForwardKernel(rows, cols, eps).run(device.memory, o[0], o[1], o[2], y, mean, rstd);
      const [dyOffset] = [device.upload(dy)];
      const [dx, dgamma, dbeta] = [rows * cols, cols, cols].map((n) => device.alloc(n * 4));
      layerNormBackwardKernel(rows, cols).run(device.memory, dyOffset, o[0], o[1], mean, rstd, dx, dgamma, dbeta);

      const ey = new Float64Array(rows * cols);
      const edx = new Float64Array(rows * cols);
      const edg = new Float64Array(cols);
      const edb = new Float64Array(cols);
      for (let r = 0; r < rows; r++) {
        const row = Array.from(x.subarray(r * cols, (r + 1) * cols));
        const m = row.reduce((a, b) => a + b, 0) / cols;
        const v = row.reduce((a, b) => a + (b - m) ** 2, 0) / cols;
        const s = 1 / Math.sqrt(v + eps);
        const xhat = row.map((b) => (b - m) * s);
        const g = xhat.map((_, j) => dy[r * cols + j] * gamma[j]);
        const mg = g.reduce((a, b) => a + b, 0) / cols;
        const mgx = g.reduce((a, b, j) => a + b * xhat[j], 0) / cols;
        for (let j = 0; j < cols; j++) {
          ey[r * cols + j] = xhat[j] * gamma[j] + beta[j];
          edx[r * cols + j] = s * (g[j] - mg - xhat[j] * mgx);
          edg[j] += dy[r * cols + j] * xhat[j];
          edb[j] += dy[r * cols + j];
        }
      }
      const tolerance = 2e-6 * Math.sqrt(cols) * 4;
      expectNear(device.read("float32", y, rows * cols), ey, tolerance, `layerNorm y cols=${cols}`);
      expectNear(device.read("float32", dx, rows * cols), edx, tolerance * 4, `layerNorm dx cols=${cols}`);
      expectNear(device.read("float32", dgamma, cols), edg, tolerance, `layerNorm dgamma cols=${cols}`);
      expectNear(device.read("float32", dbeta, cols), edb, tolerance, `layerNorm dbeta cols=${cols}`);
      [...o, y, mean, rstd, dyOffset, dx, dgamma, dbeta].forEach((offset) => device.free(offset));
    }
  });
});
