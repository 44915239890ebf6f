import { describe, expect, it } from "vitest";
import { matmul as referenceMatmul } from "../../../src/runtime/reference/matmul.js";
import { stridedCopy } from "../../../src/runtime/reference/layout.js";
import { erf } from "../../../src/runtime/reference/math.js";
import type { Storage } from "../../../src/runtime/storage.js";
import { relaxedSimdSupported } from "../../../src/runtime/wasm/features.js";
import { matmulKernel, type MatmulSpec } from "../../../src/runtime/wasm/matmul/kernel.js";
import type { MicroShape } from "../../../src/runtime/wasm/matmul/micro.js";
import { newDevice, randomStorage, rng } from "./helpers.js";

const device = newDevice();

/** Transposes each of `batch` stored [rows, cols] matrices into [cols, rows]. */
function transpose(x: Storage, batch: number, rows: number, cols: number): Storage {
  return stridedCopy(x, [batch, cols, rows], [rows * cols, 1, cols], 0, "float32");
}

interface Case extends MatmulSpec {
  micro?: MicroShape;
  relaxed?: boolean;
}

/** Runs the kernel on logical A [B, M, K] and B [B, K, N], storing them transposed where the spec requests it. */
function check(spec: Case, seed: number): void {
  const { batch, m, k, n } = spec;
  const random = rng(seed);
  const a = randomStorage(random, "float32", batch * m * k, 1);
  const b = randomStorage(random, "float32", batch * k * n, 1);
  const bias = randomStorage(random, "float32", n, 1);
  // A batch stride of 0 means one matrix for every batch: make the reference operands agree.
  if (spec.batchStrideA === 0) for (let p = 1; p < batch; p++) a.copyWithin(p * m * k, 0, m * k);
  if (spec.batchStrideB === 0) for (let p = 1; p < batch; p++) b.copyWithin(p * k * n, 0, k * n);
  const storedA = spec.transA ? transpose(a, batch, m, k) : a;
  const storedB = spec.transB ? transpose(b, batch, k, n) : b;
  const kernel = matmulKernel(spec, { micro: spec.micro, relaxed: spec.relaxed ?? false });
  const offsets = [device.upload(storedA), device.upload(storedB), device.alloc(batch * m * n * 4), device.upload(bias), device.alloc(kernel.workBytes)];
  kernel.run(device.memory, offsets[0], offsets[1], offsets[2], offsets[3], offsets[4]);
  const actual = device.read("float32", offsets[2], batch * m * n);
  offsets.forEach((o) => device.free(o));

  const expected = referenceMatmul(a, b, batch, m, k, n, "float64");
  const activation = spec.activation ?? "none";
  for (let i = 0; i < expected.length; i++) {
    let v = expected[i] + (spec.bias ? bias[i % n] : 0);
    if (activation === "relu") v = Math.max(v, 0);
    if (activation === "gelu") v = 0.5 * v * (1 + erf(v / Math.SQRT2));
    if (activation === "tanh") v = Math.tanh(v);
    // float32 products of k terms in [-1, 1]: error grows like sqrt(k) eps; allow k eps.
    const tolerance = 1e-6 * (k + 4);
    if (Math.abs(actual[i] - v) > tolerance) {
      expect.fail(`${JSON.stringify(spec)}: element ${i} is ${actual[i]}, expected ${v}`);
    }
  }
}

describe("matmul kernel", () => {
  it("square sizes in all four transpositions", () => {
    let seed = 1;
    for (const size of [1, 3, 4, 5, 17, 64, 129]) {
      for (const transA of [false, true]) {
        for (const transB of [false, true]) check({ batch: 1, m: size, k: size, n: size, transA, transB }, seed++);
      }
    }
  });

  it("rectangular and tall-skinny shapes", () => {
    const shapes: [number, number, number][] = [[1200, 32, 96], [7, 257, 3], [257, 5, 129], [33, 300, 70], [2, 1, 9]];
    let seed = 100;
    for (const [m, k, n] of shapes) {
      for (const transA of [false, true]) {
        for (const transB of [false, true]) check({ batch: 1, m, k, n, transA, transB }, seed++);
      }
    }
  });

  it("batched with a broadcast operand", () => {
    check({ batch: 3, m: 17, k: 9, n: 13 }, 200);
    check({ batch: 4, m: 5, k: 64, n: 6, transB: true, batchStrideB: 0 }, 201);
    check({ batch: 2, m: 6, k: 7, n: 8, transA: true, batchStrideA: 0 }, 202);
  });

  it("bias and activation epilogue", () => {
    for (const activation of ["none", "relu", "gelu", "tanh"] as const) {
      check({ batch: 1, m: 13, k: 300, n: 21, bias: true, activation }, 300);
      check({ batch: 2, m: 8, k: 4, n: 16, bias: true, activation, transA: true }, 301);
    }
  });

  it("other register tiles and the relaxed path", () => {
    for (const micro of [{ mr: 6, nr: 8 }, { mr: 4, nr: 12 }, { mr: 5, nr: 4 }]) check({ batch: 1, m: 37, k: 70, n: 41, micro }, 400);
    for (const relaxed of [false, true]) {
      if (relaxed && !relaxedSimdSupported()) continue;
      check({ batch: 1, m: 19, k: 33, n: 27, relaxed, transB: true }, 401);
    }
  });
});
