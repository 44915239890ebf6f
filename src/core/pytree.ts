// Pytrees: nested arrays and plain objects whose leaves are tensors. Other values (numbers, strings,
// booleans, null) are static: they belong to the structure, not to the leaves.

import { ValueError } from "../runtime/errors.js";
import { Tensor } from "./tensor.js";

/** Flatten and unflatten rules of a registered class: its children, its static data, and the way back. */
export interface PytreeNodeHandler<T> {
  flatten(value: T): { children: unknown[]; aux: unknown };
  unflatten(aux: unknown, children: unknown[]): T;
  /** A printable summary of `aux` for cache keys. */
  describe(aux: unknown): string;
}

// Handlers may be registered on a base class; lookup walks the prototype chain.
const handlers = new Map<object, PytreeNodeHandler<unknown>>();

export function registerPytreeNode<T>(ctor: abstract new (...args: never[]) => T, handler: PytreeNodeHandler<T>): void {
  handlers.set(ctor.prototype as object, handler as PytreeNodeHandler<unknown>);
}

function handlerOf(value: object): PytreeNodeHandler<unknown> | undefined {
  for (let proto = Object.getPrototypeOf(value); proto !== null; proto = Object.getPrototypeOf(proto)) {
    const handler = handlers.get(proto);
    if (handler !== undefined) return handler;
  }
  return undefined;
}

export type TreeDef =
  | { readonly kind: "leaf" }
  | { readonly kind: "static"; readonly value: unknown }
  | { readonly kind: "array"; readonly children: readonly TreeDef[] }
  | { readonly kind: "object"; readonly keys: readonly string[]; readonly children: readonly TreeDef[] }
  | {
      readonly kind: "custom";
      readonly handler: PytreeNodeHandler<unknown>;
      readonly aux: unknown;
      readonly children: readonly TreeDef[];
    };

function isPlainObject(value: object): boolean {
  const proto = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}

function flattenInto(value: unknown, leaves: unknown[], numbersAsLeaves: boolean): TreeDef {
  if (value instanceof Tensor || (numbersAsLeaves && typeof value === "number")) {
    leaves.push(value);
    return { kind: "leaf" };
  }
  const recurse = (v: unknown): TreeDef => flattenInto(v, leaves, numbersAsLeaves);
  if (Array.isArray(value)) return { kind: "array", children: value.map(recurse) };
  if (typeof value === "object" && value !== null) {
    const handler = handlerOf(value);
    if (handler !== undefined) {
      const { children, aux } = handler.flatten(value);
      return { kind: "custom", handler, aux, children: children.map(recurse) };
    }
    if (isPlainObject(value)) {
      const keys = Object.keys(value);
      const record = value as Record<string, unknown>;
      return { kind: "object", keys, children: keys.map((k) => recurse(record[k])) };
    }
  }
  if (typeof value === "function" || (typeof value === "object" && value !== null)) {
    throw new ValueError(
      `pytree: cannot flatten a value of type ${value.constructor?.name ?? typeof value}; ` +
        "use tensors, arrays and plain objects, or register the class with registerPytreeNode",
    );
  }
  return { kind: "static", value };
}

/** Splits a pytree into its tensor leaves (depth first, keys in insertion order) and its structure. */
export function treeFlatten(tree: unknown): { leaves: Tensor[]; treedef: TreeDef } {
  const leaves: Tensor[] = [];
  const treedef = flattenInto(tree, leaves, false);
  return { leaves, treedef };
}

/**
 * Like `treeFlatten`, but JavaScript numbers outside registered classes are leaves too. Compile
 * traces them as weak scalars, so a changing learning rate does not change the structure.
 */
export function treeFlattenWithNumbers(tree: unknown): { leaves: (Tensor | number)[]; treedef: TreeDef } {
  const leaves: (Tensor | number)[] = [];
  const treedef = flattenInto(tree, leaves, true);
  return { leaves, treedef };
}

/** Rebuilds a pytree of structure `treedef` from `leaves` (values of any type, in flatten order). */
export function treeUnflatten(treedef: TreeDef, leaves: readonly unknown[]): unknown {
  let next = 0;
  const build = (def: TreeDef): unknown => {
    switch (def.kind) {
      case "leaf":
        return leaves[next++];
      case "static":
        return def.value;
      case "array":
        return def.children.map(build);
      case "object":
        return Object.fromEntries(def.keys.map((k, i) => [k, build(def.children[i])]));
      case "custom":
        return def.handler.unflatten(def.aux, def.children.map(build));
      default:
        return def satisfies never;
    }
  };
  const tree = build(treedef);
  if (next !== leaves.length) {
    throw new ValueError(`pytree: the structure has ${next} leaves but ${leaves.length} values were given`);
  }
  return tree;
}

/** Number of tensor leaves in a structure. */
export function treeLeafCount(treedef: TreeDef): number {
  switch (treedef.kind) {
    case "leaf":
      return 1;
    case "static":
      return 0;
    default:
      return treedef.children.reduce((n, c) => n + treeLeafCount(c), 0);
  }
}

/** Returns a printable form of the structure, used in compile cache keys and error messages. */
export function treedefToString(treedef: TreeDef): string {
  switch (treedef.kind) {
    case "leaf":
      return "*";
    case "static":
      return JSON.stringify(treedef.value) ?? String(treedef.value);
    case "array":
      return `[${treedef.children.map(treedefToString).join(", ")}]`;
    case "object":
      return `{${treedef.keys.map((k, i) => `${k}: ${treedefToString(treedef.children[i])}`).join(", ")}}`;
    case "custom":
      return `${treedef.handler.describe(treedef.aux)}(${treedef.children.map(treedefToString).join(", ")})`;
    default:
      return treedef satisfies never;
  }
}

/** Applies `fn` to every tensor leaf and rebuilds the structure. */
export function treeMap(fn: (leaf: Tensor, index: number) => unknown, tree: unknown): unknown {
  const { leaves, treedef } = treeFlatten(tree);
  return treeUnflatten(treedef, leaves.map(fn));
}
