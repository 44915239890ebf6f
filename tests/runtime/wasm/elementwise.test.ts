import { describe, expect, it } from "vitest";
import { itemSize, sizeOf, type Storage, type StorageDType } from "../../../src/runtime/storage.js";
import { binary, cast, constant, dtypeOf, input, unary, where, type ElementwiseSpec, type Expr, type UnaryOp } from "../../../src/runtime/wasm/elementwise/ir.js";
import { elementwiseKernel } from "../../../src/runtime/wasm/elementwise/kernel.js";
import { newDevice, randomStorage, referenceElementwise, rng, sizes, maxUlp32 } from "./helpers.js";

const device = newDevice();

/** Runs `spec` on the device and on the reference, returning both sets of outputs. */
function runBoth(spec: ElementwiseSpec, data: Storage[], relaxed = false): { actual: Storage[]; expected: Storage[] } {
  const inputOffsets = data.map((d) => device.upload(d));
  const size = sizeOf(spec.shape);
  const dtypes = spec.outputs.map((o) => dtypeOf(o, spec.inputs));
  const outputOffsets = dtypes.map((dtype) => device.alloc(size * itemSize(dtype)));
  elementwiseKernel(spec, { relaxed }).run(device.memory, inputOffsets, outputOffsets);
  const actual = dtypes.map((dtype, k) => device.read(dtype, outputOffsets[k], size));
  [...inputOffsets, ...outputOffsets].forEach((o) => device.free(o));
  return { actual, expected: referenceElementwise(spec, data) };
}

function dense(shape: number[]): number[] {
  const strides: number[] = [];
  let stride = 1;
  for (let d = shape.length - 1; d >= 0; d--) {
    strides[d] = stride;
    stride *= shape[d];
  }
  return strides;
}

function expectClose(actual: Storage, expected: Storage, ulps: number): void {
  expect(actual.length).toBe(expected.length);
  if (actual instanceof Float32Array) expect(maxUlp32(actual, expected)).toBeLessThanOrEqual(ulps);
  else expect(Array.from(actual)).toEqual(Array.from(expected));
}

describe("elementwise kernel", () => {
  it("tanh chain matches reference at every size", () => {
    const random = rng(1);
    for (const size of sizes) {
      const x = input(0);
      const y = binary("mul", unary("tanh", binary("add", binary("mul", x, constant(1.5)), constant(0.5))), x);
      const spec: ElementwiseSpec = { shape: [size], inputs: [{ dtype: "float32", strides: [1] }], outputs: [y] };
      const { actual, expected } = runBoth(spec, [randomStorage(random, "float32", size)]);
      expectClose(actual[0], expected[0], 3);
    }
  });

  it("broadcast and transposed inputs", () => {
    const random = rng(2);
    const shape = [3, 5, 7];
    const spec: ElementwiseSpec = {
      shape,
      inputs: [
        { dtype: "float32", strides: dense(shape) },
        { dtype: "float32", strides: [0, 1, 0] },
        { dtype: "float32", strides: [0, 0, 0] },
        { dtype: "float32", strides: [1, 3, 15] },
      ],
      outputs: [binary("add", binary("mul", input(0), input(1)), binary("sub", input(3), input(2))), binary("max", input(0), input(3))],
    };
    const data = [randomStorage(random, "float32", 105), randomStorage(random, "float32", 5), randomStorage(random, "float32", 1), randomStorage(random, "float32", 105)];
    const { actual, expected } = runBoth(spec, data);
    expectClose(actual[0], expected[0], 0);
    expectClose(actual[1], expected[1], 0);
  });

  const floatUnary: UnaryOp[] = ["neg", "abs", "sign", "exp", "log", "log1p", "sqrt", "rsqrt", "sin", "cos", "tanh", "sigmoid", "relu", "erf"];
  for (const dtype of ["float32", "float64"] as const) {
    it(`unary ops on ${dtype}`, () => {
      const random = rng(3);
      for (const op of floatUnary) {
        for (const size of [1, 5, 17, 129]) {
          const data = randomStorage(random, dtype, size, 5);
          data[0] = NaN;
          if (size > 4) (data[1] = Infinity, data[2] = -Infinity, data[3] = 0);
          const spec: ElementwiseSpec = { shape: [size], inputs: [{ dtype, strides: [1] }], outputs: [unary(op, input(0))] };
          const { actual, expected } = runBoth(spec, [data]);
          if (dtype === "float32") expect(maxUlp32(actual[0], expected[0]), `${op} at size ${size}`).toBeLessThanOrEqual(3);
          else expect(Array.from(actual[0]), `${op} at size ${size}`).toEqual(Array.from(expected[0]));
        }
      }
    });
  }

  for (const dtype of ["float32", "float64", "int32"] as const) {
    it(`binary ops and comparisons on ${dtype}`, () => {
      const random = rng(4);
      const ops = ["add", "sub", "mul", "div", "max", "min", "pow", "equal", "notEqual", "less", "lessEqual", "greater", "greaterEqual", "logicalAnd", "logicalOr"] as const;
      for (const op of ops) {
        const size = 37;
        const a = randomStorage(random, dtype, size);
        const b = randomStorage(random, dtype, size);
        a[3] = b[3];
        b[5] = 0;
        if (dtype !== "int32") (a[0] = NaN, b[1] = NaN, a[2] = Infinity, b[4] = -Infinity);
        if (op === "pow" && dtype === "int32") for (let i = 0; i < size; i++) b[i] = Math.abs(b[i]) % 5;
        const spec: ElementwiseSpec = { shape: [size], inputs: [{ dtype, strides: [1] }, { dtype, strides: [1] }], outputs: [binary(op, input(0), input(1))] };
        const { actual, expected } = runBoth(spec, [a, b]);
        if (actual[0] instanceof Float32Array) expect(maxUlp32(actual[0], expected[0]), op).toBeLessThanOrEqual(0);
        else expect(Array.from(actual[0]), op).toEqual(Array.from(expected[0]));
      }
    });
  }

  it("casts among every dtype pair", () => {
    const random = rng(5);
    const dtypes: StorageDType[] = ["float32", "float64", "int32", "bool"];
    for (const from of dtypes) {
      for (const to of dtypes) {
        const data = randomStorage(random, from, 19, 100);
        if (from === "float32" || from === "float64") (data[0] = NaN, data[1] = -Infinity, data[2] = -0.7, data[3] = 0);
        const spec: ElementwiseSpec = { shape: [19], inputs: [{ dtype: from, strides: [1] }], outputs: [cast(input(0), to)] };
        const { actual, expected } = runBoth(spec, [data]);
        expect(Array.from(actual[0]), `${from} -> ${to}`).toEqual(Array.from(expected[0]));
      }
    }
  });

  it("where, logicalNot and bool inputs with broadcast", () => {
    const random = rng(6);
    const shape = [4, 9];
    const cond: Expr = binary("logicalOr", input(0), unary("logicalNot", input(1)));
    const spec: ElementwiseSpec = {
      shape,
      inputs: [{ dtype: "bool", strides: [9, 1] }, { dtype: "bool", strides: [1, 0] }, { dtype: "float64", strides: [9, 1] }, { dtype: "int32", strides: [0, 1] }],
      outputs: [where(cond, input(2), cast(input(3), "float64")), cond, where(input(0), input(3), constant(-7, "int32"))],
    };
    const data = [randomStorage(random, "bool", 36), randomStorage(random, "bool", 4), randomStorage(random, "float64", 36), randomStorage(random, "int32", 9)];
    const { actual, expected } = runBoth(spec, data);
    for (let k = 0; k < 3; k++) expect(Array.from(actual[k])).toEqual(Array.from(expected[k]));
  });

  it("shared subexpression with several outputs", () => {
    const random = rng(7);
    const e = unary("exp", input(0));
    const spec: ElementwiseSpec = { shape: [2, 3, 11], inputs: [{ dtype: "float32", strides: [33, 11, 1] }], outputs: [e, binary("mul", e, e)] };
    const { actual, expected } = runBoth(spec, [randomStorage(random, "float32", 66)]);
    expectClose(actual[0], expected[0], 1);
    expectClose(actual[1], expected[1], 3);
  });
});

describe("elementwise kernel edge cases", () => {
  it("empty shape writes nothing", () => {
    const output = device.alloc(16);
    device.view("float32", output, 4).fill(7);
    const spec: ElementwiseSpec = { shape: [0, 3], inputs: [{ dtype: "float32", strides: [3, 1] }], outputs: [unary("exp", input(0))] };
    elementwiseKernel(spec).run(device.memory, [output], [output]);
    expect(Array.from(device.read("float32", output, 4))).toEqual([7, 7, 7, 7]);
    device.free(output);
  });

  it("mismatched dtypes raise DTypeError", () => {
    const spec: ElementwiseSpec = { shape: [3], inputs: [{ dtype: "float32", strides: [1] }, { dtype: "int32", strides: [1] }], outputs: [binary("add", input(0), input(1))] };
    expect(() => elementwiseKernel(spec)).toThrow(/operand dtypes differ \(float32 and int32\)/);
  });
});
