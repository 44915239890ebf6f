import { describe, expect, test } from "vitest";
import * as nb from "../../src/index.js";
import { eagerProgramStats } from "../../src/core/realize.js";
import { explainMiss, makeCacheKey } from "../../src/compiler/cache-key.js";
import { treeFlattenWithNumbers } from "../../src/core/pytree.js";

type Params = { w1: nb.Tensor; b1: nb.Tensor; w2: nb.Tensor };

function initParams(seed: number): Params {
  const [k1, k2, k3] = nb.random.split(nb.random.key(seed), 3);
  return {
    w1: nb.random.normal([5, 7], { key: k1 }).mul(0.3),
    b1: nb.random.normal([7], { key: k2 }).mul(0.1),
    w2: nb.random.normal([7, 3], { key: k3 }).mul(0.3),
  };
}

function loss(p: Params, x: nb.Tensor, y: nb.Tensor): nb.Tensor {
  const h = nb.tanh(nb.add(nb.matmul(x, p.w1), p.b1));
  return nb.mean(nb.square(nb.sub(nb.matmul(h, p.w2), y)));
}

function sgdStep(p: Params, x: nb.Tensor, y: nb.Tensor, lr: number): [Params, nb.Tensor] {
  const [value, grads] = nb.valueAndGrad(loss)(p, x, y) as [nb.Tensor, Params];
  const next = nb.treeMap((leaf, i) => nb.sub(leaf, nb.mul(Object.values(grads)[i], lr)), p) as Params;
  return [next, value];
}

const x = nb.random.normal([11, 5], { key: nb.random.key(7) });
const y = nb.random.normal([11, 3], { key: nb.random.key(8) });

describe("compile", () => {
  test("replay matches eager bitwise with a changing learning rate", () => {
    const step = nb.compile(sgdStep);
    let pc = initParams(1);
    let pe = initParams(1);
    for (let i = 0; i < 6; i++) {
      const lr = 0.1 / (1 + i);
      const [nextC, lossC] = step(pc, x, y, lr);
      const [nextE, lossE] = sgdStep(pe, x, y, lr);
      expect(lossC.item()).toBe(lossE.item());
      expect(Array.from(nextC.w1.toArray())).toEqual(Array.from(nextE.w1.toArray()));
      pc = nextC;
      pe = nextE;
    }
    expect(step.stats.misses).toBe(1);
    expect(step.stats.hits).toBe(5);
    expect(step.stats.fallbacks).toBe(0);
    expect(step.stats.hitRate).toBeCloseTo(5 / 6);
    expect(String(step.stats)).toBe("CompileStats(hits=5, misses=1, fallbacks=0, hitRate=83.3%)");
  });

  test("function body does not run on a hit", () => {
    let calls = 0;
    const f = nb.compile((a: nb.Tensor) => {
      calls++;
      return a.mul(2).add(1);
    });
    expect(f(nb.tensor([1, 2])).tolist()).toEqual([3, 5]);
    expect(f(nb.tensor([3, 4])).tolist()).toEqual([7, 9]);
    expect(calls).toBe(1);
  });

  test("new shape or dtype compiles again", () => {
    const f = nb.compile((a: nb.Tensor) => a.sum());
    f(nb.ones([2, 3]));
    f(nb.ones([2, 4]));
    f(nb.ones([2, 4], { dtype: "float64" }));
    f(nb.ones([2, 4]));
    expect(f.stats.misses).toBe(3);
    expect(f.stats.hits).toBe(1);
    expect(f.cacheKeys()).toHaveLength(3);
  });

  test("miss explanation names the changed leaf", () => {
    const key = (v: unknown) => {
      const { leaves, treedef } = treeFlattenWithNumbers(v);
      return makeCacheKey(treedef, leaves.map((l) => (l instanceof nb.Tensor ? { shape: l.shape, dtype: l.dtype } : { shape: [], dtype: "float64" as const, weak: true })), []);
    };
    const before = key([nb.ones([2, 3]), 0.5]);
    const after = key([nb.ones([2, 5]), 0.25]);
    expect(explainMiss(after, before)).toBe("leaf 0 changed from float32[2,3]@single to float32[2,5]@single");
    expect(explainMiss(key([nb.ones([2, 3])]), before)).toContain("argument structure changed");
    expect(explainMiss(before, undefined)).toBe("first call");
  });

  test("integral numbers trace as int32, fractional as weak floats", () => {
    const f = nb.compile((a: nb.Tensor, n: number) => a.mul(n));
    const ints = nb.tensor([1, 2, 3], { dtype: "int32" });
    expect(f(ints, 3).dtype).toBe("int32");
    expect(f(ints, 4).tolist()).toEqual([4, 8, 12]);
    expect(f(ints, 0.5).dtype).toBe("float32");
    expect(f(nb.ones([2]), 0.1).dtype).toBe("float32");
    expect(f(nb.ones([2]), 0.1).tolist()).toEqual(nb.ones([2]).mul(0.1).tolist());
    expect(f.stats.misses).toBe(3);
  });

  test("static arguments are part of the key", () => {
    let traces = 0;
    const f = nb.compile((a: nb.Tensor, axis: number) => {
      traces++;
      return a.sum(axis);
    }, { staticArgnums: [1] });
    const a = nb.tensor([[1, 2], [3, 4]]);
    expect(f(a, 0).tolist()).toEqual([4, 6]);
    expect(f(a, 1).tolist()).toEqual([3, 7]);
    expect(f(a, 0).tolist()).toEqual([4, 6]);
    expect(traces).toBe(2);
  });

  test("output pytrees keep structure and static values", () => {
    const f = nb.compile((a: nb.Tensor) => ({ doubled: a.mul(2), tag: "ok", parts: [a, a.neg()] }));
    const out = f(nb.tensor([1.5]));
    expect(out.tag).toBe("ok");
    expect(out.doubled.tolist()).toEqual([3]);
    expect(out.parts[1].tolist()).toEqual([-1.5]);
  });

  test("closure constants are captured", () => {
    const bias = nb.tensor([10, 20]);
    const f = nb.compile((a: nb.Tensor) => a.add(bias));
    expect(f(nb.tensor([1, 2])).tolist()).toEqual([11, 22]);
    expect(f(nb.tensor([3, 4])).tolist()).toEqual([13, 24]);
  });

  test("item inside compile falls back to eager", () => {
    const f = nb.compile((a: nb.Tensor) => (a.sum().item() > 0 ? a : a.neg()));
    expect(f(nb.tensor([1, 2])).tolist()).toEqual([1, 2]);
    expect(f(nb.tensor([-1, -2])).tolist()).toEqual([1, 2]);
    expect(f.stats.fallbacks).toBe(2);
    expect(f.stats.misses).toBe(0);
  });

  test("strict mode raises TracerError", () => {
    const f = nb.compile((a: nb.Tensor) => nb.tensor([a.item()]), { fallback: "error" });
    expect(() => f(nb.tensor([1]))).toThrow(nb.TracerError);
  });

  test("backward inside compile gives correct gradients eagerly", () => {
    const w = nb.tensor([1, 2, 3], { requiresGrad: true });
    const f = nb.compile((a: nb.Tensor) => {
      const l = a.mul(w).sum();
      l.backward();
      return l;
    });
    expect(f(nb.tensor([1, 1, 1])).item()).toBe(6);
    expect(w.grad?.tolist()).toEqual([1, 1, 1]);
    expect(f.stats.fallbacks).toBe(1);
    const strict = nb.compile((a: nb.Tensor) => {
      const l = a.mul(w).sum();
      l.backward();
      return l;
    }, { fallback: "error" });
    expect(() => strict(nb.tensor([1, 1, 1]))).toThrow(/valueAndGrad/);
    expect(w.grad?.tolist()).toEqual([1, 1, 1]);
  });

  test("assign inside compile is rejected", () => {
    const p = nb.tensor([1, 2]);
    const f = nb.compile((a: nb.Tensor) => p.assign(a), { fallback: "error" });
    expect(() => f(nb.tensor([3, 4]))).toThrow(/in place inside compile/);
  });
});

describe("eager program cache", () => {
  test("same graph structure reuses its program", () => {
    const run = (seed: number) => nb.random.normal([4, 3], { key: nb.random.key(seed) }).exp().sum().item();
    run(1);
    const builds = eagerProgramStats.builds;
    const reuses = eagerProgramStats.reuses;
    const a = run(2);
    const b = run(3);
    expect(eagerProgramStats.builds).toBe(builds);
    expect(eagerProgramStats.reuses).toBe(reuses + 2);
    expect(a).not.toBe(b);
  });
});

describe("cache key", () => {
  test("static infinities and NaN stay distinct", () => {
    let traces = 0;
    const f = nb.compile((a: nb.Tensor, bound: number) => {
      traces++;
      return nb.clip(a, bound);
    }, { staticArgnums: [1] });
    const a = nb.tensor([-2, 0, 2]);
    expect(f(a, -Infinity).tolist()).toEqual([-2, 0, 2]);
    expect(f(a, Infinity).tolist()).toEqual([Infinity, Infinity, Infinity]);
    expect(traces).toBe(2);
  });
});

describe("compile with transforms and randomness", () => {
  test("grad through a compiled function", () => {
    const f = nb.compile((x: nb.Tensor) => nb.sum(nb.mul(x, x)));
    const g = nb.grad(f)(nb.tensor([1, 2])) as nb.Tensor;
    expect(g.tolist()).toEqual([2, 4]);
    const w = nb.tensor([3, -1], { requiresGrad: true });
    expect(() => f(w).backward()).toThrow(/compiled function are detached/);
    expect(nb.valueAndGrad(f)(nb.tensor([3, -1]))[1]).toBeInstanceOf(nb.Tensor);
  });

  test("global random draws change per call", () => {
    nb.random.seed(11);
    const f = nb.compile((x: nb.Tensor) => nb.add(x, nb.random.uniform([4])));
    const a = f(nb.zeros([4])).tolist() as number[];
    const b = f(nb.zeros([4])).tolist() as number[];
    expect(a).not.toEqual(b);
    expect(f.stats.misses).toBe(1);
    expect(f.stats.hits).toBe(1);
    nb.random.seed(11);
    expect(f(nb.zeros([4])).tolist()).toEqual(a);
  });

  test("explicit keys stay deterministic", () => {
    const f = nb.compile((k: nb.Tensor) => nb.random.normal([3], { key: k }));
    const key = nb.random.key(4);
    expect(f(key).tolist()).toEqual(nb.random.normal([3], { key }).tolist());
  });

  test("dropout masks differ per compiled call", () => {
    nb.random.seed(2);
    const drop = new nb.nn.Dropout(0.5);
    const f = nb.compile((x: nb.Tensor) => drop.call(x));
    const x = nb.ones([64]);
    expect(f(x).tolist()).not.toEqual(f(x).tolist());
  });
});
