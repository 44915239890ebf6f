// Bad input raises a typed error whose message names the op and the values involved.

import { describe, expect, it } from "vitest";
import * as nb from "../src/index.js";

/** Runs `fn` and returns what it threw, failing the test if it returned normally. */
function thrown(fn: () => unknown): Error {
  try {
    fn();
  } catch (error) {
    return error as Error;
  }
  throw new Error("expected the call to throw, but it returned");
}

describe("typed errors", () => {
  it("add with mismatched shapes raises ShapeError naming both shapes", () => {
    const error = thrown(() => nb.add(nb.ones([3, 2]), nb.ones([4])));
    expect(error).toBeInstanceOf(nb.ShapeError);
    expect(error).toBeInstanceOf(nb.NablaError);
    expect(error.message).toContain("add");
    expect(error.message).toContain("[3, 2]");
    expect(error.message).toContain("[4]");
  });

  it("matmul with mismatched inner dimensions raises ShapeError naming both shapes", () => {
    const error = thrown(() => nb.matmul(nb.ones([2, 3]), nb.ones([4, 5])));
    expect(error).toBeInstanceOf(nb.ShapeError);
    expect(error.message).toContain("matmul");
    expect(error.message).toContain("[2, 3]");
    expect(error.message).toContain("[4, 5]");
  });

  it("matmul with unbroadcastable batches raises ShapeError", () => {
    const error = thrown(() => nb.matmul(nb.ones([2, 3, 4]), nb.ones([3, 4, 5])));
    expect(error).toBeInstanceOf(nb.ShapeError);
    expect(error.message).toContain("[2, 3, 4]");
    expect(error.message).toContain("[3, 4, 5]");
  });

  it("an out-of-range axis raises IndexError naming the axis and rank", () => {
    for (const call of [() => nb.sum(nb.ones([2, 3]), 2), () => nb.softmax(nb.ones([2, 3]), -3), () => nb.flip(nb.ones([2, 3]), 5)]) {
      const error = thrown(call);
      expect(error).toBeInstanceOf(nb.IndexError);
      expect(error.message).toMatch(/axis -?\d/);
      expect(error.message).toContain("rank 2");
    }
    const error = thrown(() => nb.sum(nb.ones([2, 3]), 2));
    expect(error.message).toContain("axis 2");
    expect(error.message).toContain("[-2, 1]");
  });

  it("a repeated axis raises IndexError", () => {
    expect(() => nb.sum(nb.ones([2, 3]), [1, -1])).toThrow(nb.IndexError);
  });

  it("int64 overflow raises DTypeError with the value", () => {
    const error = thrown(() => nb.tensor(new BigInt64Array([1n, 3000000000n])));
    expect(error).toBeInstanceOf(nb.DTypeError);
    expect(error.message).toContain("3000000000");
    expect(error.message).toContain("index 1");
  });

  it("backward on a non-scalar raises AutogradError with the shape", () => {
    const x = nb.tensor([[1, 2]], { requiresGrad: true });
    const error = thrown(() => nb.mul(x, 2).backward());
    expect(error).toBeInstanceOf(nb.AutogradError);
    expect(error.message).toContain("[1, 2]");
  });

  it("gather with an index out of range raises IndexError at realization", () => {
    const lazy = nb.gather(nb.ones([4, 2]), nb.tensor([0, 4], { dtype: "int32" }), 0);
    const error = thrown(() => lazy.toArray());
    expect(error).toBeInstanceOf(nb.IndexError);
    expect(error.message).toContain("index 4");
    expect(error.message).toContain("position 1");
    expect(error.message).toContain("0..3");
  });

  it("gather with a negative index raises IndexError", () => {
    expect(() => nb.gather(nb.ones([4]), nb.tensor([-1], { dtype: "int32" })).toArray()).toThrow(nb.IndexError);
  });

  it("reshape to a different element count raises ShapeError naming both", () => {
    const error = thrown(() => nb.reshape(nb.ones([2, 3]), [4, 2]));
    expect(error).toBeInstanceOf(nb.ShapeError);
    expect(error.message).toContain("[2, 3]");
    expect(error.message).toContain("[4, 2]");
  });

  it("errors carry their class name", () => {
    expect(thrown(() => nb.add(nb.ones([2]), nb.ones([3]))).name).toBe("ShapeError");
  });
});

describe("index checks at realization", () => {
  it("oneHot rejects an index past the classes", () => {
    const t = nb.oneHot(nb.tensor([1, 5], { dtype: "int32" }), 3);
    expect(() => t.toArray()).toThrow(nb.IndexError);
    expect(() => t.toArray()).toThrow(/oneHot: index 5 at position 1/);
  });

  it("crossEntropyLoss rejects a bad class index", () => {
    const logits = nb.random.normal([2, 3], { key: nb.random.key(1) });
    const loss = nb.nn.functional.crossEntropyLoss(logits, nb.tensor([0, 3], { dtype: "int32" }));
    expect(() => loss.item()).toThrow(/crossEntropyLoss: index 3/);
    const ignored = nb.nn.functional.crossEntropyLoss(logits, nb.tensor([0, -100], { dtype: "int32" }));
    expect(Number.isFinite(ignored.item())).toBe(true);
  });
});
