// The reduce kernel with an elementwise prologue: random expressions over dense, transposed and
// broadcast inputs, checked against the reference elementwise evaluation followed by the reference reduce.

import { describe, expect, it } from "vitest";
import { reduce } from "../../../src/runtime/reference/reduce.js";
import { sizeOf, type Storage, type StorageDType } from "../../../src/runtime/storage.js";
import { binary, cast, constant, input, unary, where, type Expr, type InputSpec } from "../../../src/runtime/wasm/elementwise/ir.js";
import type { ReduceKind } from "../../../src/runtime/wasm/reduce/accumulate.js";
import { fusedReduceKernel, type FusedReduceSpec } from "../../../src/runtime/wasm/reduce/kernel.js";
import { newDevice, randomStorage, referenceElementwise, rng, sizes } from "./helpers.js";

const device = newDevice();
const kinds: readonly ReduceKind[] = ["sum", "max", "min", "prod"];

/** How an input is stored: dense, with its axes reversed in memory, or broadcast along some axes. */
interface Layout {
  readonly dtype: StorageDType;
  readonly transposed?: boolean;
  readonly broadcast?: readonly number[];
}

/** Draws the data of an input stored as `layout` for a kernel of `shape`, and its strides in that shape. */
function makeInput(random: () => number, shape: readonly number[], layout: Layout, scale: number): { data: Storage; spec: InputSpec } {
  const stored = shape.map((d, axis) => (layout.broadcast?.includes(axis) === true ? 1 : d));
  const order = stored.map((_, d) => d);
  if (layout.transposed === true) order.reverse();
  // Strides of a dense tensor whose axes appear in memory in `order`, outermost first.
  const strides = new Array<number>(shape.length).fill(0);
  let stride = 1;
  for (let k = order.length - 1; k >= 0; k--) {
    const axis = order[k];
    strides[axis] = stored[axis] === 1 ? 0 : stride;
    stride *= stored[axis];
  }
  return { data: randomStorage(random, layout.dtype, sizeOf(stored), scale), spec: { dtype: layout.dtype, strides } };
}

/** Reference: evaluate the expression into a dense tensor, then reduce it in float64. */
function expected(spec: FusedReduceSpec, data: readonly Storage[], dtype: StorageDType): Storage {
  const [values] = referenceElementwise({ shape: spec.shape, inputs: spec.inputs, outputs: [spec.expr] }, data);
  return reduce(values, spec.shape, spec.axes, spec.kind, dtype);
}

function runKernel(spec: FusedReduceSpec, data: readonly Storage[]): Storage {
  const kernel = fusedReduceKernel(spec);
  const offsets = data.map((d) => device.upload(d));
  const outSize = sizeOf(spec.shape.filter((_, d) => !spec.axes.includes(d)));
  const output = device.alloc(Math.max(outSize, 1) * 8);
  kernel.run(device.memory, offsets, output);
  const actual = device.read(kernel.dtype, output, outSize);
  offsets.forEach((o) => device.free(o));
  device.free(output);
  return actual;
}

/**
 * Asserts that each output is within `rtol` of the expected value relative to its magnitude, or for a
 * sum relative to the sum of magnitudes, so cancellation does not demand more than float32 terms give.
 */
function expectReduced(actual: Storage, want: Storage, scale: Storage, rtol: number, label: string): void {
  expect(actual.length, `${label}: length`).toBe(want.length);
  for (let i = 0; i < want.length; i++) {
    if (Number.isNaN(want[i]) || !Number.isFinite(want[i])) {
      expect(actual[i], `${label} at ${i}`).toBe(want[i]);
      continue;
    }
    const bound = rtol * Math.max(Math.abs(want[i]), scale[i]) + 1e-30;
    expect(Math.abs(actual[i] - want[i]), `${label} at ${i}: got ${actual[i]}, expected ${want[i]}`).toBeLessThanOrEqual(bound);
  }
}

interface Case {
  readonly shape: readonly number[];
  readonly axes: readonly number[];
  readonly layouts: readonly Layout[];
  readonly expr: (dtype: StorageDType) => Expr;
  /** Largest magnitude of the random inputs. */
  readonly scale?: number;
}

function check(testCase: Case, kind: ReduceKind, seed: number, specials = false): void {
  const random = rng(seed);
  const outDType = testCase.layouts[0].dtype;
  const scale = testCase.scale ?? (kind === "prod" ? 1 : 2);
  const generated = testCase.layouts.map((layout) => makeInput(random, testCase.shape, layout, scale));
  const data = generated.map((g) => g.data);
  if (specials && data[0].length > 4) {
    data[0][Math.floor(random() * data[0].length)] = NaN;
    data[0][2] = Infinity;
    data[0][3] = -Infinity;
  }
  const spec: FusedReduceSpec = { shape: testCase.shape, axes: testCase.axes, kind, inputs: generated.map((g) => g.spec), expr: testCase.expr(outDType) };
  const want = expected(spec, data, outDType);
  const magnitudes = expected({ ...spec, kind: kind === "sum" ? "sum" : "max", expr: unary("abs", spec.expr) }, data, "float64");
  // A product compounds the few-ulp error of each evaluated term over every reduced element.
  const terms = kind === "prod" ? sizeOf(spec.axes.map((a) => spec.shape[a])) : 1;
  const rtol = (outDType === "float32" ? 8 * 2 ** -24 : 1e-13) * terms;
  expectReduced(runKernel(spec, data), want, kind === "sum" ? magnitudes : want, rtol, `${kind} ${JSON.stringify(spec.shape)} axes ${JSON.stringify(spec.axes)} seed ${seed}`);
}

const x = input(0);
const y = input(1);

describe("fused reduce kernel", () => {
  it("exp of a shifted row at every size", () => {
    let seed = 1;
    for (const size of sizes) {
      for (const dtype of ["float32", "float64"] as const) {
        const testCase: Case = {
          shape: [3, size],
          axes: [1],
          layouts: [{ dtype }, { dtype, broadcast: [1] }],
          expr: () => unary("exp", binary("sub", x, y)),
        };
        for (const kind of kinds) check(testCase, kind, seed++);
      }
    }
  });

  it("squared deviation over a leading axis", () => {
    let seed = 100;
    for (const size of [1, 3, 5, 17, 129]) {
      for (const dtype of ["float32", "float64"] as const) {
        const testCase: Case = {
          shape: [size, 7],
          axes: [0],
          layouts: [{ dtype }, { dtype, broadcast: [0] }],
          expr: () => {
            const centered = binary("sub", x, y);
            return binary("mul", centered, centered);
          },
        };
        for (const kind of kinds) check(testCase, kind, seed++);
      }
    }
  });

  it("products of transposed and dense inputs", () => {
    const cases: [number[], number[]][] = [
      [[5, 17], [0]], [[5, 17], [1]], [[17, 5], [0, 1]], [[1, 129], [1]], [[129, 3], [0]],
      [[4, 3, 7], [0, 2]], [[4, 3, 7], [1]], [[2, 3, 5, 9], [1, 3]], [[2, 3, 5, 9], [0, 1]], [[3, 4], []],
    ];
    let seed = 200;
    for (const [shape, axes] of cases) {
      for (const dtype of ["float32", "float64"] as const) {
        const testCase: Case = { shape, axes, layouts: [{ dtype, transposed: true }, { dtype }], expr: () => binary("mul", x, y) };
        for (const kind of kinds) check(testCase, kind, seed++);
      }
    }
  });

  it("broadcast along kept and reduced axes", () => {
    const cases: [number[], number[], number[]][] = [
      [[6, 5, 9], [1], [0, 2]], [[6, 5, 9], [0, 2], [1]], [[6, 5, 9], [2], [2]], [[6, 5, 9], [0], [0]], [[5, 6], [0, 1], [0, 1]],
    ];
    let seed = 300;
    for (const [shape, axes, broadcast] of cases) {
      const testCase: Case = {
        shape,
        axes,
        layouts: [{ dtype: "float32" }, { dtype: "float32", broadcast }],
        expr: () => unary("tanh", binary("add", binary("mul", x, constant(0.5)), y)),
      };
      for (const kind of kinds) check(testCase, kind, seed++);
    }
  });

  it("NaN and Infinity propagate as in the reference", () => {
    let seed = 400;
    for (const [shape, axes] of [[[5, 33], [1]], [[33, 5], [0]], [[7, 3, 5], [0, 2]]] as [number[], number[]][]) {
      for (const dtype of ["float32", "float64"] as const) {
        const testCase: Case = { shape, axes, layouts: [{ dtype }, { dtype, transposed: true }], expr: () => binary("add", x, unary("abs", y)) };
        for (const kind of kinds) check(testCase, kind, seed++, true);
      }
    }
  });

  it("mixed dtypes through where and cast", () => {
    let seed = 500;
    for (const [shape, axes] of [[[9, 17], [1]], [[17, 9], [0]], [[1], [0]]] as [number[], number[]][]) {
      const testCase: Case = {
        shape,
        axes,
        layouts: [{ dtype: "float32" }, { dtype: "int32", transposed: true }, { dtype: "bool" }],
        expr: () => where(input(2), binary("mul", x, cast(y, "float32")), unary("relu", x)),
      };
      for (const kind of kinds) check(testCase, kind, seed++);
    }
  });

  it("only constants and broadcasts", () => {
    const random = rng(600);
    const { data, spec } = makeInput(random, [4, 5], { dtype: "float32", broadcast: [0, 1] }, 2);
    const fused: FusedReduceSpec = { shape: [4, 5], axes: [1], kind: "sum", inputs: [spec], expr: binary("add", x, constant(1)) };
    const actual = runKernel(fused, [data]);
    expect(Array.from(actual)).toEqual(new Array(4).fill(Math.fround(5 * (data[0] + 1))));
  });

  it("rejects an integer reduced value", () => {
    const spec: FusedReduceSpec = { shape: [3], axes: [0], kind: "sum", inputs: [{ dtype: "int32", strides: [1] }], expr: x };
    expect(() => fusedReduceKernel(spec)).toThrow(/must be float32 or float64, got int32/);
  });

  it("rejects strides of the wrong rank", () => {
    const spec: FusedReduceSpec = { shape: [3, 4], axes: [0], kind: "sum", inputs: [{ dtype: "float32", strides: [1] }], expr: x };
    expect(() => fusedReduceKernel(spec)).toThrow(/input 0 has 1 strides for a shape of rank 2/);
  });

  it("float32 sums of 10^7 terms within 1e-6", () => {
    const n = 10_000_000;
    const random = rng(700);
    const data = new Float32Array(n);
    for (let i = 0; i < n; i++) data[i] = random();
    for (const [shape, axes] of [[[n], [0]], [[n / 4, 4], [0]]] as [number[], number[]][]) {
      const strides = shape.length === 1 ? [1] : [4, 1];
      const spec: FusedReduceSpec = { shape, axes, kind: "sum", inputs: [{ dtype: "float32", strides }], expr: binary("mul", x, x) };
      const actual = runKernel(spec, [data]);
      const exact = new Float64Array(actual.length);
      for (let i = 0; i < n; i++) exact[i % actual.length] += data[i] * data[i];
      for (let k = 0; k < actual.length; k++) expect(Math.abs(actual[k] - exact[k]) / exact[k], `${JSON.stringify(shape)} output ${k}`).toBeLessThan(1e-6);
    }
  });
});
