// Pytrees: flatten and unflatten round trips over arrays, objects, statics and registered classes.

import { describe, expect, it } from "vitest";
import * as nb from "../../src/index.js";

const a = nb.tensor([1]);
const b = nb.tensor([2, 3]);
const c = nb.tensor(4);

describe("treeFlatten and treeUnflatten", () => {
  it("flattens depth first with keys in insertion order", () => {
    const tree = { w: [a, { inner: b }], bias: c };
    const { leaves, treedef } = nb.treeFlatten(tree);
    expect(leaves).toEqual([a, b, c]);
    expect(leaves[0]).toBe(a);
    expect(nb.treedefToString(treedef)).toBe("{w: [*, {inner: *}], bias: *}");
  });

  it("round-trips nested arrays and objects", () => {
    const tree = [a, [b, [c]], { x: a, y: [] as nb.Tensor[], z: {} }];
    const { leaves, treedef } = nb.treeFlatten(tree);
    const rebuilt = nb.treeUnflatten(treedef, leaves) as typeof tree;
    expect(rebuilt).toEqual(tree);
    expect(rebuilt[0]).toBe(a);
    expect(rebuilt).not.toBe(tree);
  });

  it("keeps static values in the structure", () => {
    const tree = { lr: 0.1, name: "layer", flag: true, nothing: null, t: a };
    const { leaves, treedef } = nb.treeFlatten(tree);
    expect(leaves).toHaveLength(1);
    expect(nb.treeUnflatten(treedef, [b])).toEqual({ lr: 0.1, name: "layer", flag: true, nothing: null, t: b });
    expect(nb.treedefToString(treedef)).toBe('{lr: 0.1, name: "layer", flag: true, nothing: null, t: *}');
  });

  it("treats a bare tensor as one leaf", () => {
    const { leaves, treedef } = nb.treeFlatten(a);
    expect(leaves).toEqual([a]);
    expect(nb.treeUnflatten(treedef, [b])).toBe(b);
  });

  it("rejects a leaf count that does not match", () => {
    const { treedef } = nb.treeFlatten([a, b]);
    expect(() => nb.treeUnflatten(treedef, [a])).toThrow(nb.ValueError);
    expect(() => nb.treeUnflatten(treedef, [a, b, c])).toThrow(/2 leaves but 3/);
  });

  it("rejects unregistered class instances and functions", () => {
    class Opaque {}
    expect(() => nb.treeFlatten({ o: new Opaque() })).toThrow(nb.ValueError);
    expect(() => nb.treeFlatten([() => 1])).toThrow(nb.ValueError);
  });

  it("treeMap applies a function to every leaf", () => {
    const tree = { p: [a, b], q: c };
    const doubled = nb.treeMap((t) => nb.mul(t as nb.Tensor, 2), tree) as { p: nb.Tensor[]; q: nb.Tensor };
    expect(doubled.p[1].tolist()).toEqual([4, 6]);
    expect(doubled.q.item()).toBe(8);
  });
});

describe("registered classes", () => {
  class Pair {
    constructor(
      readonly first: nb.Tensor,
      readonly second: nb.Tensor,
      readonly label: string,
    ) {}
  }
  class LabeledPair extends Pair {}

  nb.registerPytreeNode(Pair, {
    flatten: (p) => ({ children: [p.first, p.second], aux: p.label }),
    unflatten: (aux, children) => new Pair(children[0] as nb.Tensor, children[1] as nb.Tensor, aux as string),
    describe: (aux) => `Pair<${String(aux)}>`,
  });

  it("round-trips through the handler", () => {
    const { leaves, treedef } = nb.treeFlatten({ pair: new Pair(a, b, "ab") });
    expect(leaves).toEqual([a, b]);
    expect(nb.treedefToString(treedef)).toBe("{pair: Pair<ab>(*, *)}");
    const rebuilt = nb.treeUnflatten(treedef, [c, a]) as { pair: Pair };
    expect(rebuilt.pair).toBeInstanceOf(Pair);
    expect(rebuilt.pair.first).toBe(c);
    expect(rebuilt.pair.label).toBe("ab");
  });

  it("applies a base class handler to subclasses", () => {
    const { leaves } = nb.treeFlatten(new LabeledPair(a, b, "sub"));
    expect(leaves).toEqual([a, b]);
  });
});
