// Containers: ModuleList (an indexed list of submodules) and Sequential (a chain of them).

import type { Tensor } from "../core/tensor.js";
import { IndexError } from "../runtime/errors.js";
import { Module } from "./module.js";

const isIndexKey = (key: string): boolean => /^(0|[1-9]\d*)$/.test(key);

/**
 * A list of submodules named "0", "1", ... A plain array of modules in a field is registered the
 * same way; ModuleList adds push/at/iteration and can itself be the root of a pytree.
 */
export class ModuleList<M extends Module = Module> extends Module implements Iterable<M> {
  constructor(modules: Iterable<M> = []) {
    super();
    for (const m of modules) this.push(m);
  }

  get length(): number {
    return Object.keys(this).filter(isIndexKey).length;
  }

  push(...modules: M[]): this {
    for (const m of modules) this.registerModule(String(this.length), m);
    return this;
  }

  /** Returns the module at `index`; negative indices count from the end. */
  at(index: number): M {
    const n = this.length;
    const i = index < 0 ? index + n : index;
    if (!Number.isInteger(i) || i < 0 || i >= n) throw new IndexError(`ModuleList.at: index ${index} is out of range for ${n} modules`);
    return (this as unknown as Record<string, M>)[String(i)];
  }

  *[Symbol.iterator](): Iterator<M> {
    for (let i = 0; i < this.length; i++) yield this.at(i);
  }
}

/** Applies its modules in order, each to the previous one's output. */
export class Sequential extends ModuleList<Module> {
  constructor(...modules: Module[]) {
    super(modules);
  }

  override forward(x: Tensor): Tensor {
    let out = x;
    for (const m of this) out = m.forward(out as never) as Tensor;
    return out;
  }
}
