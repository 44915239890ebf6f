// Modules as pytrees: parameters and buffers are the leaves; configuration and train/eval are static.

import { registerPytreeNode, treeFlatten, treeUnflatten, type TreeDef } from "../core/pytree.js";
import { formatShape } from "../core/shape.js";
import { Tensor } from "../core/tensor.js";
import { Module } from "./module.js";
import { Parameter } from "./parameter.js";
import { listItemKind, moduleState, newModuleState, slotsOf, type HasModuleState, type SlotKind } from "./slots.js";

/**
 * The static part of a module tree. The whole tree under the flattened module is one pytree node.
 * A module or tensor that appears twice (tied weights, a layer kept in a list and in a field)
 * becomes one set of leaves plus an alias, so rebuilding keeps the sharing.
 */
interface ModuleDef {
  readonly proto: object;
  readonly className: string;
  readonly training: boolean;
  readonly nonPersistent: readonly string[];
  readonly entries: readonly EntryDef[];
}

type EntryDef =
  | { readonly kind: "leaf"; readonly name: string; readonly slot: "parameter" | "buffer" }
  | { readonly kind: "module"; readonly name: string; readonly def: ModuleDef }
  | { readonly kind: "list"; readonly name: string; readonly items: readonly EntryDef[] }
  | { readonly kind: "alias"; readonly name: string; readonly slot: SlotKind; readonly target: string }
  | { readonly kind: "static"; readonly name: string; readonly value: unknown };

const join = (path: string, name: string): string => (path === "" ? name : `${path}.${name}`);

class Flattener {
  readonly children: unknown[] = [];
  readonly #seen = new Map<object, string>();

  module(module: HasModuleState, path: string): ModuleDef {
    this.#seen.set(module, path);
    const state = module[moduleState];
    return {
      proto: Object.getPrototypeOf(module) as object,
      className: module.constructor.name,
      training: state.training,
      nonPersistent: [...state.nonPersistent],
      entries: slotsOf(module).map((slot) => this.#entry(slot.kind, slot.name, slot.value, join(path, slot.name))),
    };
  }

  #entry(kind: SlotKind | "static", name: string, value: unknown, path: string): EntryDef {
    if (kind === "static") return { kind, name, value };
    const first = typeof value === "object" && value !== null ? this.#seen.get(value) : undefined;
    if (first !== undefined) return { kind: "alias", name, slot: kind, target: first };
    if (kind === "module") return { kind, name, def: this.module(value as HasModuleState, path) };
    if (kind === "list") {
      const items = (value as unknown[]).map((item, i) => this.#entry(listItemKind(item), String(i), item, `${path}.${i}`));
      return { kind, name, items };
    }
    if (typeof value === "object" && value !== null) this.#seen.set(value, path);
    this.children.push(value);
    return { kind: "leaf", name, slot: kind };
  }
}

function slotKindOf(entry: Exclude<EntryDef, { kind: "static" }>): SlotKind {
  return entry.kind === "leaf" || entry.kind === "alias" ? entry.slot : entry.kind;
}

class Builder {
  readonly #built = new Map<string, unknown>();
  #next = 0;

  constructor(readonly leaves: readonly unknown[]) {}

  module(def: ModuleDef, path: string): Module {
    const module = Object.create(def.proto) as Module;
    const state = newModuleState(def.training);
    def.nonPersistent.forEach((name) => state.nonPersistent.add(name));
    Object.defineProperty(module, moduleState, { value: state, enumerable: false });
    this.#built.set(path, module);

    for (const entry of def.entries) {
      const value = this.#value(entry, join(path, entry.name));
      if (entry.kind !== "static") state.declared.set(entry.name, slotKindOf(entry));
      Object.defineProperty(module, entry.name, { value, enumerable: true, writable: true, configurable: true });
    }
    return module;
  }

  #value(entry: EntryDef, path: string): unknown {
    switch (entry.kind) {
      case "leaf": {
        const leaf = this.leaves[this.#next++];
        this.#built.set(path, leaf);
        return leaf;
      }
      case "module":
        return this.module(entry.def, path);
      case "list":
        return entry.items.map((item) => this.#value(item, `${path}.${item.name}`));
      case "alias":
        return this.#built.get(entry.target);
      case "static":
        // A fresh array, so that pushing layers into the rebuilt module leaves the original alone.
        return Array.isArray(entry.value) ? [...(entry.value as unknown[])] : entry.value;
      default:
        return entry satisfies never;
    }
  }
}

function describeStatic(value: unknown): string {
  if (value instanceof Tensor) return `Tensor${formatShape(value.shape)}:${value.dtype}#${value.node.id}`;
  if (typeof value === "function") return `function ${value.name || "anonymous"}`;
  try {
    return JSON.stringify(value, (_key, v: unknown) => (v instanceof Tensor || typeof v === "function" ? describeStatic(v) : v)) ?? String(value);
  } catch {
    return `<${(value as object).constructor?.name ?? typeof value}>`;
  }
}

function describeEntry(entry: EntryDef): string {
  switch (entry.kind) {
    case "leaf":
      return `${entry.name}: ${entry.slot}`;
    case "module":
      return `${entry.name}: ${describeDef(entry.def)}`;
    case "list":
      return `${entry.name}: [${entry.items.map(describeEntry).join(", ")}]`;
    case "alias":
      return `${entry.name}: alias of ${entry.target}`;
    case "static":
      return `${entry.name}=${describeStatic(entry.value)}`;
    default:
      return entry satisfies never;
  }
}

function describeDef(def: ModuleDef): string {
  const mode = def.training ? "train" : "eval";
  const persistence = def.nonPersistent.length > 0 ? ` nonPersistent=${def.nonPersistent.join(",")}` : "";
  return `${def.className}<${mode}${persistence}>{${def.entries.map(describeEntry).join(", ")}}`;
}

function isModuleDef(aux: unknown): aux is ModuleDef {
  return typeof aux === "object" && aux !== null && "entries" in aux && "proto" in aux;
}

/** Lists the dotted names of a module's leaves in flatten order, with whether each is a parameter. */
export function moduleLeafNames(aux: unknown): { name: string; trainable: boolean }[] | undefined {
  if (!isModuleDef(aux)) return undefined;
  const out: { name: string; trainable: boolean }[] = [];
  const visit = (entries: readonly EntryDef[], path: string): void => {
    for (const entry of entries) {
      const name = join(path, entry.name);
      if (entry.kind === "leaf") out.push({ name, trainable: entry.slot === "parameter" });
      if (entry.kind === "module") visit(entry.def.entries, name);
      if (entry.kind === "list") visit(entry.items, name);
    }
  };
  visit(aux.entries, "");
  return out;
}

registerPytreeNode(Module, {
  flatten(module) {
    const flattener = new Flattener();
    const aux = flattener.module(module, "");
    return { children: flattener.children, aux };
  },
  unflatten(aux, children) {
    return new Builder(children).module(aux as ModuleDef, "");
  },
  describe(aux) {
    return describeDef(aux as ModuleDef);
  },
});

/**
 * Copies a module deeply, with new parameter handles on the same values. Buffers and constants are
 * shared, which is safe because tensor data is never mutated in place.
 */
export function cloneModule<M extends Module>(module: M): M {
  const { leaves, treedef } = treeFlatten(module);
  const copies = leaves.map((leaf) => (leaf instanceof Parameter ? new Parameter(leaf, leaf.requiresGrad) : leaf));
  return treeUnflatten(treedef as TreeDef, copies) as M;
}
