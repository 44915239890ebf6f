// Composite ops and their gradients, partitioned: mean and var divide by the global count, and
// embedding, attention-style softmax and normalization graphs differentiate like the unsharded ones.

import fc from "fast-check";
import { describe, it } from "vitest";
import * as nb from "../../src/index.js";
import type { Tensor } from "../../src/core/tensor.js";
import type { Aval } from "../../src/core/node.js";
import { checkAgainstReference, describeCase, meshes, randomData, randomSpec, Rng, type InputCase } from "./spmd-support.js";

const f32 = (...shape: number[]): Aval => ({ shape, dtype: "float32" });

interface GraphCase {
  readonly inputs: readonly InputCase[];
  readonly fn: (...args: Tensor[]) => unknown;
}

const float = (aval: Aval): InputCase => ({ aval, domain: { kind: "float" } });

const composites: Record<string, (rng: Rng) => GraphCase> = {
  "mean and var": (rng) => {
    const shape = [rng.int(1, 7), rng.int(1, 7)];
    const axis = rng.int(0, 2);
    return { inputs: [float(f32(...shape))], fn: (x) => [nb.mean(x, axis), nb.variance(x, { axis, keepdims: true }), nb.mean(x)] };
  },
  "logsumexp and max": (rng) => {
    const shape = [rng.int(1, 6), rng.int(1, 6), rng.int(1, 4)];
    return { inputs: [float(f32(...shape))], fn: (x) => [nb.logsumexp(x, rng.int(0, 3)), nb.max(x, [0, 2]), nb.min(x)] };
  },
  "embedding and softmax gradients": (rng) => {
    const [vocab, width, tokens] = [rng.int(2, 7), rng.int(1, 6), rng.int(1, 6)];
    const ids: InputCase = { aval: { shape: [tokens], dtype: "int32" }, domain: { kind: "index", bound: vocab } };
    const loss = (table: Tensor, w: Tensor, idx: Tensor): Tensor => {
      const embedded = nb.take(table, idx, 0);
      const scores = nb.matmul(embedded, w);
      return nb.sum(nb.mul(nb.softmax(scores, -1), nb.logSoftmax(scores, 0)));
    };
    return {
      inputs: [float(f32(vocab, width)), float(f32(width, 3)), ids],
      fn: (table, w, idx) => nb.valueAndGrad((t: Tensor, v: Tensor) => loss(t, v, idx), { argnums: [0, 1] })(table, w),
    };
  },
  "normalization gradients": (rng) => {
    const shape = [rng.int(1, 6), rng.int(2, 7)];
    const loss = (x: Tensor, scale: Tensor): Tensor => {
      const centered = nb.sub(x, nb.mean(x, { axis: -1, keepdims: true }));
      const normalized = nb.div(centered, nb.sqrt(nb.add(nb.variance(x, { axis: -1, keepdims: true, correction: 0 }), 1e-5)));
      const joined = nb.concat([nb.mul(normalized, scale), nb.flip(x, [0])], 0);
      return nb.mean(nb.tanh(nb.reshape(joined, [-1])));
    };
    return { inputs: [float(f32(...shape)), float(f32(shape[1]))], fn: (x, scale) => nb.valueAndGrad(loss, { argnums: [0, 1] })(x, scale) };
  },
};

describe("partitioned composites", () => {
  for (const [name, build] of Object.entries(composites)) {
    it(`${name} match the unsharded result`, () => {
      fc.assert(
        fc.property(fc.integer({ min: 0, max: 2 ** 31 - 1 }), fc.integer({ min: 0, max: meshes.length - 1 }), (seed, meshIndex) => {
          const rng = new Rng(seed);
          const mesh = meshes[meshIndex];
          const { inputs, fn } = build(rng);
          const specs = inputs.map((input) => randomSpec(rng, input.aval.shape.length, mesh, input.aval.dtype === "float32" ? ["sum", "max", "min"] : []));
          const globals = inputs.map((input) => randomData(rng, input));
          const graph = nb.traceGraph(fn as (...args: never[]) => unknown, inputs.map((input) => input.aval));
          checkAgainstReference(graph, specs, mesh, globals, `${name} on ${describeCase(mesh, specs, inputs.map((i) => i.aval))} (seed ${seed})`);
        }),
        { numRuns: 40, seed: 2 },
      );
    });
  }
});
