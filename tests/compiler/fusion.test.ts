// Matmul epilogue fusion and the softmax row kernels: the wasm backend must agree with the reference
// backend on values and gradients, and the fused kernels must actually run.

import { afterEach, describe, expect, test } from "vitest";
import * as nb from "../../src/index.js";
import type { Tensor } from "../../src/index.js";
import { expectClose } from "../support/finite-differences.js";
import { Rng } from "../support/random.js";
import { launchesDuring, onBackend, onBoth } from "../support/backends.js";

// float32 results of different kernels; the wasm transcendentals are within 2 ulp.
const f32 = { rtol: 2e-5, atol: 2e-6 };

function randn32(rng: Rng, shape: readonly number[]): Tensor {
  const data = Float32Array.from({ length: shape.reduce((a, b) => a * b, 1) }, () => rng.normal());
  return nb.tensor(data, { shape: [...shape] });
}

class Mlp extends nb.nn.Module {
  first = new nb.nn.Linear(13, 29);
  second = new nb.nn.Linear(29, 7);
  third = new nb.nn.Linear(7, 5);
  override forward(x: Tensor): Tensor {
    return nb.sigmoid(this.third.call(nb.tanh(this.second.call(nb.relu(this.first.call(x))))));
  }
}

afterEach(() => {
  nb.setBackend(undefined);
});

describe("matmul epilogue fusion", () => {
  test("MLP forward and gradients match reference", () => {
    const run = (rng: Rng): Float64Array[] => {
      nb.random.seed(5);
      const model = new Mlp();
      const x = randn32(rng, [3, 11, 13]);
      const weights = randn32(rng, [3, 11, 5]);
      const out = model.call(x);
      nb.sum(nb.mul(out, weights)).backward();
      return [out, ...model.parameters().map((p) => p.grad as Tensor)].map((t) => Float64Array.from(t.toArray()));
    };
    const { wasm, reference } = onBoth(run);
    expect(wasm.length).toBe(7);
    expectClose(wasm[0], reference[0], f32, "output");
    wasm.slice(1).forEach((g, i) => expectClose(g, reference[i + 1], { rtol: 1e-4, atol: 1e-5 }, `gradient ${i}`));
  });

  test("inference fuses bias and activation", () => {
    const run = (): Float64Array => {
      nb.random.seed(5);
      const model = new Mlp();
      const x = randn32(new Rng(3), [3, 11, 13]);
      return Float64Array.from(nb.noGrad(() => model.call(x)).toArray());
    };
    const launches = launchesDuring(() => void run());
    expect(launches.get("matmul+bias+relu")).toBe(1);
    expect(launches.get("matmul+bias+tanh")).toBe(1);
    expect(launches.get("matmul+bias+sigmoid")).toBe(1);
    expect(launches.get("matmul")).toBeUndefined();
    const { wasm, reference } = onBoth(run);
    expectClose(wasm, reference, f32, "output");
  });

  test("training fuses the whole epilogue", () => {
    nb.random.seed(5);
    const model = new Mlp();
    const x = randn32(new Rng(3), [3, 11, 13]);
    // Every activation's gradient reads its output, so the sums before them need not be kept.
    const launches = launchesDuring(() => nb.sum(model.call(x)).backward());
    expect(launches.get("matmul+bias+relu")).toBe(1);
    expect(launches.get("matmul+bias+tanh")).toBe(1);
    expect(launches.get("matmul+bias+sigmoid")).toBe(1);
  });

  test("matmul read elsewhere stays unfused", () => {
    const run = (rng: Rng): Float64Array[] => {
      const [x, w, b] = [randn32(rng, [9, 6]), randn32(rng, [6, 5]), randn32(rng, [5])];
      const product = nb.matmul(x, w);
      const out = nb.relu(nb.add(product, b));
      const doubled = nb.mul(product, 2);
      return [out, doubled].map((t) => Float64Array.from(t.toArray()));
    };
    const launches = launchesDuring(() => void run(new Rng(2)));
    expect(launches.get("matmul")).toBeGreaterThanOrEqual(1);
    expect(launches.get("matmul+bias+relu")).toBeUndefined();
    const { wasm, reference } = onBoth(run);
    expectClose(wasm[0], reference[0], f32, "relu output");
    expectClose(wasm[1], reference[1], f32, "doubled product");
  });

  test("full-shape addend stays unfused", () => {
    const run = (rng: Rng): Float64Array => {
      const [x, w, c] = [randn32(rng, [9, 6]), randn32(rng, [6, 5]), randn32(rng, [9, 5])];
      return Float64Array.from(nb.relu(nb.add(nb.matmul(x, w), c)).toArray());
    };
    const launches = launchesDuring(() => void run(new Rng(2)));
    expect(launches.get("matmul")).toBe(1);
    const { wasm, reference } = onBoth(run);
    expectClose(wasm, reference, f32, "output");
  });

  test("bias on the left fuses", () => {
    const run = (rng: Rng): Float64Array => {
      const [x, w, b] = [randn32(rng, [2, 17, 6]), randn32(rng, [2, 6, 19]), randn32(rng, [19])];
      return Float64Array.from(nb.tanh(nb.add(b, nb.matmul(x, w))).toArray());
    };
    const launches = launchesDuring(() => void run(new Rng(4)));
    expect(launches.get("matmul+bias+tanh")).toBe(1);
    const { wasm, reference } = onBoth(run);
    expectClose(wasm, reference, f32, "output");
  });
});

describe("softmax primitives", () => {
  const shapes = [[5, 7, 9], [3, 1], [4, 33], [2, 3, 5]];

  for (const kind of ["softmax", "logSoftmax"] as const) {
    for (const shape of shapes) {
      for (let axis = -1; axis >= -shape.length; axis--) {
        test(`${kind} ${JSON.stringify(shape)} axis ${axis} matches reference`, () => {
          const run = (rng: Rng): Float64Array[] => {
            const x = randn32(rng, shape);
            const weights = randn32(rng, shape);
            const f = (t: Tensor): Tensor => nb.sum(nb.mul(nb[kind](t, axis), weights));
            const [value, pull] = nb.vjp(f, x);
            const [g] = pull(nb.onesLike(value as Tensor)) as Tensor[];
            return [nb[kind](x, axis), g].map((t) => Float64Array.from(t.toArray()));
          };
          const { wasm, reference } = onBoth(run);
          expectClose(wasm[0], reference[0], f32, "values");
          expectClose(wasm[1], reference[1], { rtol: 1e-4, atol: 1e-5 }, "gradient");
        });
      }
    }

    test(`${kind} float32 runs the row kernel`, () => {
      const x = randn32(new Rng(8), [5, 7, 9]);
      expect(launchesDuring(() => void nb[kind](x).toArray()).get(kind)).toBe(1);
      expect(launchesDuring(() => void nb[kind](x, 1).toArray()).get(kind)).toBe(1);
    });

    test(`${kind} float64 matches float64 math`, () => {
      const data = [0.5, -1.25, 3, 1e-3, -7, 2];
      const x = nb.tensor(Float64Array.from(data), { shape: [2, 3] });
      const launches = launchesDuring(() => void nb[kind](x).toArray());
      expect(launches.get(`reference ${kind}`)).toBe(1);
      const got = onBackend("wasm", () => nb[kind](x).toArray());
      const expected = [data.slice(0, 3), data.slice(3)].flatMap((row) => {
        const max = Math.max(...row);
        const total = row.reduce((s, v) => s + Math.exp(v - max), 0);
        return row.map((v) => (kind === "softmax" ? Math.exp(v - max) / total : v - max - Math.log(total)));
      });
      expectClose(got, expected, { rtol: 1e-14, atol: 1e-15 }, "values");
    });
  }

  test("infinite rows give NaN on both backends", () => {
    const x = nb.tensor(Float32Array.from([Infinity, 1, 2, -Infinity, -Infinity, -Infinity, 0, -Infinity, 1]), { shape: [3, 3] });
    const { wasm, reference } = onBoth(() => Array.from(nb.softmax(x).toArray()));
    expect(wasm.slice(0, 6).every(Number.isNaN)).toBe(true);
    expect(reference.slice(0, 6).every(Number.isNaN)).toBe(true);
    expectClose(wasm.slice(6), reference.slice(6), f32, "finite row");
  });

  test("crossEntropyLoss and gradient match reference", () => {
    const run = (rng: Rng): Float64Array[] => {
      const logits = randn32(rng, [13, 7]);
      const labels = nb.tensor(Int32Array.from({ length: 13 }, () => Math.floor(rng.next() * 7)), { shape: [13] });
      const [loss, pull] = nb.vjp((z: Tensor) => nb.nn.functional.crossEntropyLoss(z, labels), logits);
      const [g] = pull(nb.onesLike(loss as Tensor)) as Tensor[];
      return [loss as Tensor, g].map((t) => Float64Array.from(t.toArray()));
    };
    const { wasm, reference } = onBoth(run);
    expectClose(wasm[0], reference[0], f32, "loss");
    expectClose(wasm[1], reference[1], { rtol: 1e-4, atol: 1e-6 }, "gradient");
  });
});
