import { describe, expect, it } from "vitest";
import { gather, pad, scatterAdd, stridedCopy } from "../../../src/runtime/reference/layout.js";
import { IndexError } from "../../../src/runtime/errors.js";
import { sizeOf, type StorageDType } from "../../../src/runtime/storage.js";
import { copyKernel, padKernel } from "../../../src/runtime/wasm/layout/copy.js";
import { gatherKernel, scatterAddKernel } from "../../../src/runtime/wasm/layout/indexing.js";
import { newDevice, randomStorage, rng } from "./helpers.js";

const device = newDevice();
const dtypes: StorageDType[] = ["float32", "float64", "int32", "bool"];

describe("layout kernels", () => {
  it("strided copy: transpose, steps, flip, broadcast", () => {
    const random = rng(1);
    // Views of a dense [5, 6, 7] source (210 elements): shape, strides, offset.
    const views: [number[], number[], number][] = [
      [[7, 6, 5], [1, 7, 42], 0],
      [[2, 6, 3], [84, 7, 2], 1],
      [[5, 6, 7], [42, 7, -1], 6],
      [[5, 3, 6, 7], [42, 0, 7, 1], 0],
      [[4, 17], [0, 1], 3],
      [[1], [1], 0],
      [[6, 5], [-7, 42], 41],
    ];
    for (const dtype of dtypes) {
      const x = randomStorage(random, dtype, 210);
      for (const [shape, strides, offset] of views) {
        const input = device.upload(x);
        const output = device.alloc(sizeOf(shape) * 8);
        copyKernel({ shape, dtype, srcStrides: strides, srcOffset: offset }).run(device.memory, input, output);
        const expected = stridedCopy(x, shape, strides, offset, dtype);
        expect(Array.from(device.read(dtype, output, expected.length)), `${dtype} [${shape}] [${strides}]`).toEqual(Array.from(expected));
        device.free(input);
        device.free(output);
      }
    }
  });

  it("pad with low, high and interior padding", () => {
    const random = rng(2);
    const cases: [number[], number[], number[], number[]][] = [
      [[5], [2], [3], [0]], [[3, 4], [1, 0], [0, 2], [1, 1]], [[2, 3, 5], [0, 1, 2], [1, 0, 3], [0, 2, 0]], [[1], [0], [0], [0]],
    ];
    for (const dtype of dtypes) {
      for (const [shape, low, high, interior] of cases) {
        const x = randomStorage(random, dtype, sizeOf(shape));
        const expected = pad(x, shape, low, high, interior, dtype === "bool" ? 1 : -2.5, dtype);
        const input = device.upload(x);
        const output = device.alloc(expected.byteLength);
        padKernel({ shape, dtype, low, high, interior, value: dtype === "bool" ? 1 : -2.5 }).run(device.memory, input, output);
        expect(Array.from(device.read(dtype, output, expected.length)), `${dtype} [${shape}]`).toEqual(Array.from(expected));
        device.free(input);
        device.free(output);
      }
    }
  });

  it("gather and scatter-add along each axis", () => {
    const random = rng(3);
    const shape = [3, 5, 9];
    for (const dtype of ["float32", "float64", "int32"] as const) {
      for (let axis = 0; axis < 3; axis++) {
        const n = shape[axis];
        const count = 7;
        const indices = Int32Array.from({ length: count }, () => Math.floor(random() * n));
        indices[1] = indices[0]; // a duplicate must add up twice
        const x = randomStorage(random, dtype, sizeOf(shape));
        const updateShape = shape.map((s, d) => (d === axis ? count : s));
        const updates = randomStorage(random, dtype, sizeOf(updateShape));
        const [xOffset, indexOffset, updatesOffset] = [device.upload(x), device.upload(indices), device.upload(updates)];
        const gathered = device.alloc(sizeOf(updateShape) * 8);
        gatherKernel({ shape, axis, count, dtype }).run(device.memory, xOffset, indexOffset, gathered);
        const expectedGather = gather(x, shape, indices, axis, dtype);
        expect(Array.from(device.read(dtype, gathered, expectedGather.length))).toEqual(Array.from(expectedGather));

        const scattered = device.alloc(x.byteLength);
        scatterAddKernel({ shape, axis, count, dtype }).run(device.memory, xOffset, indexOffset, updatesOffset, scattered);
        const expectedScatter = scatterAdd(x, shape, indices, updates, axis, dtype);
        const actual = device.read(dtype, scattered, expectedScatter.length);
        for (let i = 0; i < actual.length; i++) expect(actual[i]).toBeCloseTo(expectedScatter[i], 5);

        device.view("int32", indexOffset, count)[4] = n;
        expect(() => gatherKernel({ shape, axis, count, dtype }).run(device.memory, xOffset, indexOffset, gathered)).toThrow(IndexError);
        expect(() => scatterAddKernel({ shape, axis, count, dtype }).run(device.memory, xOffset, indexOffset, updatesOffset, scattered)).toThrow(/index 5|index 3|index 9/);
        [xOffset, indexOffset, updatesOffset, gathered, scattered].forEach((o) => device.free(o));
      }
    }
  });
});
