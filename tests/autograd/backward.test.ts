// PyTorch-style autograd: requiresGrad leaves, backward, accumulation, detach, noGrad, and agreement with grad.

import { describe, expect, it } from "vitest";
import * as nb from "../../src/index.js";
import type { Tensor } from "../../src/index.js";
import { expectClose } from "../support/finite-differences.js";
import { randn, Rng } from "../support/random.js";

const leaf = (data: number[]): Tensor => nb.tensor(data, { dtype: "float64", requiresGrad: true });

describe("backward", () => {
  it("fills .grad of requiresGrad leaves", () => {
    const x = leaf([1, 2, 3]);
    const w = leaf([0.5, -1, 2]);
    const loss = nb.sum(nb.mul(nb.mul(x, w), x));
    expect(x.grad).toBeNull();
    loss.backward();
    expect((x.grad as Tensor).tolist()).toEqual([1, -4, 12]);
    expect((w.grad as Tensor).tolist()).toEqual([1, 4, 9]);
  });

  it("adds a second backward into .grad", () => {
    const x = leaf([1, 2]);
    nb.sum(nb.mul(x, 3)).backward();
    nb.sum(nb.mul(x, x)).backward();
    expect((x.grad as Tensor).tolist()).toEqual([5, 7]);
  });

  it("can run twice on the same graph", () => {
    const x = leaf([2]);
    const loss = nb.sum(nb.exp(x));
    loss.backward();
    loss.backward();
    expect((x.grad as Tensor).item()).toBeCloseTo(2 * Math.exp(2), 12);
  });

  it("accumulates every use of a leaf", () => {
    const x = leaf([3]);
    nb.sum(nb.add(nb.mul(x, x), nb.mul(x, 4))).backward();
    expect((x.grad as Tensor).tolist()).toEqual([10]);
  });

  it("takes an explicit gradient for a non-scalar output", () => {
    const x = leaf([1, 2]);
    nb.mul(x, x).backward(nb.tensor([1, 10], { dtype: "float64" }));
    expect((x.grad as Tensor).tolist()).toEqual([2, 40]);
    expect(() => nb.mul(x, x).backward(nb.ones([3], { dtype: "float64" }))).toThrow(nb.ShapeError);
  });

  it("raises AutogradError with the shape on a non-scalar output", () => {
    const x = leaf([1, 2, 3]);
    const y = nb.reshape(nb.mul(x, 2), [3, 1]);
    expect(() => y.backward()).toThrow(nb.AutogradError);
    expect(() => y.backward()).toThrow(/\[3, 1\]/);
  });

  it("raises when nothing requires grad", () => {
    expect(() => nb.sum(nb.tensor([1, 2])).backward()).toThrow(nb.AutogradError);
  });

  it("leaves untracked tensors without .grad", () => {
    const x = leaf([1]);
    const c = nb.tensor([5], { dtype: "float64" });
    nb.sum(nb.mul(x, c)).backward();
    expect(c.grad).toBeNull();
    expect(c.requiresGrad).toBe(false);
  });

  it("casts gradients to the leaf's dtype", () => {
    const x = nb.tensor([1, 2], { requiresGrad: true });
    nb.sum(nb.mul(nb.cast(x, "float64"), 2)).backward();
    expect((x.grad as Tensor).dtype).toBe("float32");
    expect((x.grad as Tensor).tolist()).toEqual([2, 2]);
  });
});

describe("leaves, detach, noGrad", () => {
  it("reports requiresGrad and isLeaf", () => {
    const x = leaf([1]);
    const y = nb.mul(x, 2);
    expect(x.requiresGrad).toBe(true);
    expect(x.isLeaf).toBe(true);
    expect(y.requiresGrad).toBe(true);
    expect(y.isLeaf).toBe(false);
    expect(nb.mul(nb.tensor([1]), 2).requiresGrad).toBe(false);
  });

  it("setting requiresGrad on a leaf starts tracking", () => {
    const x = nb.tensor([2], { dtype: "float64" });
    x.requiresGrad = true;
    nb.sum(nb.mul(x, x)).backward();
    expect((x.grad as Tensor).tolist()).toEqual([4]);
    expect(() => {
      nb.mul(x, 1).requiresGrad = false;
    }).toThrow(nb.AutogradError);
  });

  it("only floating tensors can require grad", () => {
    expect(() => nb.tensor([1], { dtype: "int32", requiresGrad: true })).toThrow(nb.DTypeError);
  });

  it("detach cuts the graph", () => {
    const x = leaf([3]);
    const d = nb.mul(x, x).detach();
    expect(d.requiresGrad).toBe(false);
    expect(d.isLeaf).toBe(true);
    expect(d.tolist()).toEqual([9]);
    nb.sum(nb.add(nb.mul(d, x), x)).backward();
    expect((x.grad as Tensor).tolist()).toEqual([10]);
  });

  it("noGrad records no dependencies", () => {
    const x = leaf([1]);
    const y = nb.noGrad(() => nb.mul(x, 2));
    expect(y.requiresGrad).toBe(false);
    expect(nb.isGradEnabled()).toBe(true);
    expect(() => nb.sum(y).backward()).toThrow(nb.AutogradError);
  });

  it("noGrad restores the mode after a throw", () => {
    expect(() =>
      nb.noGrad(() => {
        throw new Error("inside");
      }),
    ).toThrow("inside");
    expect(nb.isGradEnabled()).toBe(true);
  });

  it("stopGradient blocks the gradient but not the value", () => {
    const x = leaf([2]);
    const y = nb.mul(nb.stopGradient(nb.mul(x, x)), x);
    expect(y.tolist()).toEqual([8]);
    nb.sum(y).backward();
    expect((x.grad as Tensor).tolist()).toEqual([4]);
  });
});

describe("PyTorch and JAX styles agree", () => {
  const rng = new Rng(5);
  const data = randn(rng, [7, 3]);
  const target = randn(rng, [7]);
  const init = [randn(rng, [3, 5]), randn(rng, [5]), randn(rng, [5])];

  const loss = (w1: Tensor, b1: Tensor, w2: Tensor): Tensor => {
    const hidden = nb.gelu(nb.add(nb.matmul(data, w1), b1));
    const logits = nb.matmul(hidden, w2);
    return nb.add(nb.mean(nb.square(nb.sub(logits, target))), nb.logsumexp(logits));
  };

  it("gives the same gradients", () => {
    const jaxGrads = nb.grad(loss, { argnums: [0, 1, 2] })(...init) as Tensor[];

    const leaves = init.map((p) => {
      const copy = p.detach();
      copy.requiresGrad = true;
      return copy;
    });
    loss(leaves[0], leaves[1], leaves[2]).backward();

    leaves.forEach((l, i) => {
      expect(l.grad).not.toBeNull();
      expectClose((l.grad as Tensor).toArray(), jaxGrads[i].toArray(), { rtol: 1e-12, atol: 1e-14 }, `param ${i}`);
    });
  });
});
