import { afterEach, beforeEach, describe, expect, test } from "vitest";
import * as nb from "../../src/index.js";

class Mlp extends nb.nn.Module {
  hidden = new nb.nn.Linear(9, 17);
  out = new nb.nn.Linear(17, 3);
  override forward(x: nb.Tensor): nb.Tensor {
    return this.out.call(nb.tanh(this.hidden.call(x)));
  }
}

function data(): [nb.Tensor, nb.Tensor] {
  const x = nb.random.normal([33, 9], { key: nb.random.key(3) });
  const y = nb.random.randint([33], 0, 3, { key: nb.random.key(4) });
  return [x, y];
}

beforeEach(() => {
  nb.setBackend("wasm");
});

afterEach(() => {
  nb.setBackend(undefined);
  nb.configureDevice({});
});

describe("wasm backend", () => {
  test("device memory stays flat over training", () => {
    nb.random.seed(1);
    const model = new Mlp();
    const optimizer = new nb.nn.optim.AdamW(model, { lr: 1e-2 });
    const [x, y] = data();
    const inUse: number[] = [];
    for (let step = 0; step < 25; step++) {
      model.zeroGrad();
      nb.nn.functional.crossEntropyLoss(model.call(x), y).backward();
      optimizer.step();
      inUse.push(nb.deviceMemoryStats().bytesInUse);
    }
    expect(new Set(inUse).size).toBe(1);
    expect(inUse[0]).toBe(0);
  });

  test("training matches the reference backend", () => {
    const losses = (backend: "wasm" | "reference"): number[] => {
      nb.setBackend(backend);
      nb.random.seed(7);
      const model = new Mlp();
      const optimizer = new nb.nn.optim.AdamW(model, { lr: 1e-2 });
      const [x, y] = data();
      return Array.from({ length: 6 }, () => {
        model.zeroGrad();
        const loss = nb.nn.functional.crossEntropyLoss(model.call(x), y);
        loss.backward();
        optimizer.step();
        return loss.item();
      });
    };
    const fast = losses("wasm");
    const reference = losses("reference");
    fast.forEach((loss, i) => expect(loss).toBeCloseTo(reference[i], 5));
  });

  test("running out of device memory raises a typed error", () => {
    nb.configureDevice({ capacityBytes: 1 << 20 });
    const big = nb.ones([1024, 1024]);
    let error: unknown;
    try {
      nb.exp(big).sum().item();
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(nb.DeviceMemoryError);
    expect(String(error)).toContain("wasm:0");
    expect(String(error)).toContain("capacity is 1048576 bytes");
  });

  test("fused chain with broadcast and transpose", () => {
    const a = nb.random.normal([5, 7], { key: nb.random.key(5) });
    const b = nb.random.normal([7], { key: nb.random.key(6) });
    const build = () => nb.tanh(nb.add(a.T, 1).mul(1.5)).add(nb.unsqueeze(b, 1)).sum(0);
    nb.setBackend("reference");
    const expected = build().toArray();
    nb.setBackend("wasm");
    const actual = build().toArray();
    actual.forEach((v, i) => expect(v).toBeCloseTo(expected[i], 5));
  });
});

describe("random kernels", () => {
  test("draws match the reference bit for bit", () => {
    const draws = () => {
      const key = nb.random.key(12345);
      return [
        nb.random.normal([7, 5], { key }),
        nb.random.normal([9], { key, dtype: "float64" }),
        nb.random.uniform([13], { key }),
        nb.random.randint([11], -3, 40, { key }),
        ...nb.random.split(key, 3),
      ].map((t) => Array.from(t.toArray()));
    };
    nb.setBackend("reference");
    const expected = draws();
    nb.setBackend("wasm");
    expect(draws()).toEqual(expected);
  });
});

describe("device configuration", () => {
  test("rejects invalid capacities", () => {
    for (const bad of [Number.NaN, -1, 0, 1000, 2 ** 33, 1.5e6 + 0.5]) {
      expect(() => nb.configureDevice({ capacityBytes: bad })).toThrow(nb.ValueError);
    }
    expect(() => nb.configureDevice({ capacityBytes: 1000 })).toThrow(/from 65536/);
  });
});

describe("casts to int32", () => {
  test("saturate out of range on both backends", () => {
    const expected = [2147483647, -2147483648, 2, -2, 0, 0];
    for (const dtype of ["float32", "float64"] as const) {
      const run = () => nb.cast(nb.tensor([3e9, -3e9, 2.7, -2.7, Number.NaN, Infinity], { dtype }), "int32").tolist();
      nb.setBackend("reference");
      expect(run()).toEqual(expected);
      nb.setBackend("wasm");
      expect(run()).toEqual(expected);
    }
  });
});
