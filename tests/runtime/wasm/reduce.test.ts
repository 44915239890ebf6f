import { describe, expect, it } from "vitest";
import { argReduce, reduce } from "../../../src/runtime/reference/reduce.js";
import { sizeOf } from "../../../src/runtime/storage.js";
import { argReduceKernel } from "../../../src/runtime/wasm/reduce/arg.js";
import { reduceKernel, type ReduceSpec } from "../../../src/runtime/wasm/reduce/kernel.js";
import { maxUlp32, newDevice, randomStorage, rng, sizes } from "./helpers.js";

const device = newDevice();

function check(spec: ReduceSpec, seed: number, specials = false): void {
  const random = rng(seed);
  const size = sizeOf(spec.shape);
  const x = randomStorage(random, spec.dtype, size, spec.kind === "prod" ? 1.5 : 3);
  if (specials && size > 3) (x[Math.floor(random() * size)] = NaN, x[1] = Infinity);
  const outSize = sizeOf(spec.shape.filter((_, d) => !spec.axes.includes(d)));
  const input = device.upload(x);
  const output = device.alloc(outSize * 8);
  reduceKernel(spec).run(device.memory, input, output);
  const actual = device.read(spec.dtype, output, outSize);
  device.free(input);
  device.free(output);
  const expected = reduce(x, spec.shape, spec.axes, spec.kind, spec.dtype);
  const label = JSON.stringify(spec);
  if (spec.dtype === "float32") expect(maxUlp32(actual, expected), label).toBeLessThanOrEqual(1);
  else for (let i = 0; i < outSize; i++) expect(actual[i], `${label} at ${i}`).toBeCloseTo(expected[i], 10);
}

describe("reduce kernel", () => {
  it("every kind over the last axis at every size", () => {
    let seed = 1;
    for (const kind of ["sum", "max", "min", "prod"] as const) {
      for (const size of sizes) {
        check({ shape: [3, size], axes: [1], kind, dtype: "float32" }, seed++);
        check({ shape: [size], axes: [0], kind, dtype: "float64" }, seed++);
      }
    }
  });

  it("leading, middle and mixed axis sets", () => {
    const cases: [number[], number[]][] = [
      [[17, 5], [0]], [[5, 129], [0]], [[4, 3, 7], [0, 2]], [[4, 3, 7], [1]], [[2, 3, 5, 9], [1, 3]],
      [[2, 3, 5, 9], [0, 1]], [[6, 1, 5], [1]], [[4, 3, 1], [1, 2]], [[64, 64], [0, 1]], [[3, 4], []],
    ];
    let seed = 100;
    for (const [shape, axes] of cases) {
      for (const kind of ["sum", "max", "min", "prod"] as const) {
        for (const dtype of ["float32", "float64"] as const) check({ shape, axes, kind, dtype }, seed++);
      }
    }
  });

  it("NaN and Infinity propagate", () => {
    let seed = 200;
    for (const kind of ["sum", "max", "min"] as const) {
      check({ shape: [5, 33], axes: [1], kind, dtype: "float32" }, seed++, true);
      check({ shape: [33, 5], axes: [0], kind, dtype: "float32" }, seed++, true);
    }
  });

  it("float32 sum of 10^7 values within 1e-6", () => {
    const n = 10_000_000;
    const random = rng(300);
    const x = new Float32Array(n);
    let exact = 0;
    for (let i = 0; i < n; i++) exact += x[i] = random();
    const input = device.upload(x);
    const output = device.alloc(4);
    reduceKernel({ shape: [n], axes: [0], kind: "sum", dtype: "float32" }).run(device.memory, input, output);
    const sum = device.read("float32", output, 1)[0];
    device.free(input);
    device.free(output);
    expect(Math.abs(sum - exact) / exact).toBeLessThan(1e-6);
  });

  it("argmax and argmin with ties and NaN", () => {
    let seed = 400;
    for (const [shape, axis] of [[[7, 17], 1], [[17, 7], 0], [[3, 5, 4], 1], [[1], 0]] as [number[], number][]) {
      for (const kind of ["max", "min"] as const) {
        for (const dtype of ["float32", "float64"] as const) {
          const random = rng(seed++);
          const x = randomStorage(random, dtype, sizeOf(shape));
          for (let i = 0; i < x.length; i++) x[i] = Math.round(x[i]);
          if (x.length > 10) x[9] = NaN;
          const input = device.upload(x);
          const output = device.alloc(x.length * 4);
          argReduceKernel({ shape, axis, kind, dtype }).run(device.memory, input, output);
          const expected = argReduce(x, shape, axis, kind);
          expect(Array.from(device.read("int32", output, expected.length)), `${kind} ${dtype} [${shape}] axis ${axis}`).toEqual(Array.from(expected));
          device.free(input);
          device.free(output);
        }
      }
    }
  });
});
