// Module: the base class of layers and models, with parameter discovery, train/eval and state dicts.

import { noGrad } from "../core/grad-mode.js";
import { formatShape, shapesEqual } from "../core/shape.js";
import { realize, Tensor } from "../core/tensor.js";
import { cast } from "../ops/elementwise.js";
import { NotSupportedError, ValueError } from "../runtime/errors.js";
import { Parameter } from "./parameter.js";
import { isModuleLike, listItemKind, moduleState, newModuleState, slotsOf, type ModuleState, type SlotKind } from "./slots.js";

/** A parameter or buffer found while walking a module tree. */
interface Member {
  readonly name: string;
  readonly kind: "parameter" | "buffer";
  readonly value: unknown;
  readonly persistent: boolean;
}

export interface LoadStateDictOptions {
  /** Reject missing and unexpected keys (default true). Shape mismatches are always rejected. */
  readonly strict?: boolean;
}

export interface LoadStateDictResult {
  readonly missingKeys: string[];
  readonly unexpectedKeys: string[];
}

/**
 * Base class of layers and models. Fields that contain a Parameter, a Module or an array of modules
 * (or parameters) are discovered whenever the module is walked, in assignment order. The methods
 * registerParameter, registerBuffer and registerModule register explicitly. A plain Tensor field
 * is a constant unless it is registered as a buffer.
 *
 * Calling convention: subclasses implement `forward`, callers use `model.call(x)`, which runs
 * `forward` with the same arguments and types. Modules are pytrees: parameters and buffers are the
 * leaves, everything else (configuration, the train/eval flag) is static structure.
 *
 * NOTE: subclasses must not use `#private` fields or methods. Rebuilding a module from its pytree
 * (valueAndGrad, adamwUpdate, treeMap) creates the instance without running its constructor, and
 * such an instance has no `#private` slots; use TypeScript's `private` instead.
 */
export class Module {
  declare readonly [moduleState]: ModuleState;

  constructor() {
    Object.defineProperty(this, moduleState, { value: newModuleState(), enumerable: false });
  }

  /** True in training mode (the default); Dropout and attention dropout act only then. */
  get training(): boolean {
    return this[moduleState].training;
  }

  /** Computes the module's output; subclasses override it. */
  forward(..._args: never[]): unknown {
    throw new NotSupportedError(`${this.constructor.name}.forward is not defined; override forward in the subclass, or call the submodules directly`);
  }

  /** Runs `forward`; the one entry point callers use, so that hooks can be added here later. */
  call<M extends Module>(this: M, ...args: Parameters<M["forward"]>): ReturnType<M["forward"]> {
    return this.forward(...(args as never[])) as ReturnType<M["forward"]>;
  }

  registerParameter(name: string, value: Tensor | null): void {
    const parameter = value === null || value instanceof Parameter ? value : new Parameter(value);
    this.declareMember(name, "parameter", parameter);
  }

  /** Registers a tensor that is saved and loaded with the state but never trained (for example running statistics). */
  registerBuffer(name: string, value: Tensor | null, options: { persistent?: boolean } = {}): void {
    this.declareMember(name, "buffer", value);
    if (options.persistent === false) this[moduleState].nonPersistent.add(name);
    else this[moduleState].nonPersistent.delete(name);
  }

  registerModule(name: string, value: Module | null): void {
    this.declareMember(name, "module", value);
  }

  private declareMember(name: string, kind: SlotKind, value: unknown): void {
    if (name === "" || name.includes(".")) {
      throw new ValueError(`${this.constructor.name}: invalid member name ${JSON.stringify(name)}; names must be non-empty and contain no "."`);
    }
    this[moduleState].declared.set(name, kind);
    (this as unknown as Record<string, unknown>)[name] = value;
  }

  /** Direct submodules with their names; modules in a list are named "field.index". */
  namedChildren(): [string, Module][] {
    const out: [string, Module][] = [];
    for (const slot of slotsOf(this)) {
      if (slot.kind === "module") out.push([slot.name, slot.value as Module]);
      if (slot.kind === "list") {
        (slot.value as unknown[]).forEach((item, i) => {
          if (listItemKind(item) === "module") out.push([`${slot.name}.${i}`, item as Module]);
        });
      }
    }
    return out;
  }

  children(): Module[] {
    return this.namedChildren().map(([, m]) => m);
  }

  /** This module and every submodule, depth first, each once (a shared module keeps its first name). */
  namedModules(prefix = ""): [string, Module][] {
    const out: [string, Module][] = [];
    const seen = new Set<Module>();
    const visit = (module: Module, name: string): void => {
      if (seen.has(module)) return;
      seen.add(module);
      out.push([name, module]);
      for (const [child, m] of module.namedChildren()) visit(m, name === "" ? child : `${name}.${child}`);
    };
    visit(this, prefix);
    return out;
  }

  modules(): Module[] {
    return this.namedModules().map(([, m]) => m);
  }

  /** Parameters with dotted names such as "layers.0.linear1.weight"; a shared parameter appears once. */
  namedParameters(): [string, Tensor][] {
    return this.members("parameter").map((m) => [m.name, m.value as Tensor]);
  }

  parameters(): Tensor[] {
    return this.namedParameters().map(([, p]) => p);
  }

  namedBuffers(): [string, Tensor][] {
    return this.members("buffer").map((m) => [m.name, m.value as Tensor]);
  }

  buffers(): Tensor[] {
    return this.namedBuffers().map(([, b]) => b);
  }

  private members(kind: "parameter" | "buffer" | "all"): Member[] {
    const out: Member[] = [];
    const seen = new Set<unknown>();
    for (const [prefix, module] of this.namedModules()) {
      for (const member of ownMembers(module, prefix)) {
        if (kind !== "all" && member.kind !== kind) continue;
        if (!(member.value instanceof Tensor) || seen.has(member.value)) continue;
        seen.add(member.value);
        out.push(member);
      }
    }
    return out;
  }

  /** Sets training mode on this module and every submodule; returns `this`. */
  train(mode = true): this {
    for (const m of this.modules()) m[moduleState].training = mode;
    return this;
  }

  /** Switches to evaluation mode, the same as `train(false)`; returns `this`. */
  eval(): this {
    return this.train(false);
  }

  /** Clears `.grad` of every parameter (sets it to null, as PyTorch does by default). */
  zeroGrad(): void {
    for (const p of this.parameters()) p.grad = null;
  }

  /** Number of parameter elements; shared parameters count once. */
  numParameters(options: { trainableOnly?: boolean } = {}): number {
    return this.parameters()
      .filter((p) => !options.trainableOnly || p.requiresGrad)
      .reduce((n, p) => n + p.numel(), 0);
  }

  /** Snapshot of the parameters and persistent buffers by dotted name; the tensors are realized, detached copies of the handles. */
  stateDict(): Record<string, Tensor> {
    const members = this.members("all").filter((m) => m.persistent);
    const tensors = members.map((m) => m.value as Tensor);
    realize(...tensors);
    return Object.fromEntries(members.map((m, i) => [m.name, tensors[i].detach()]));
  }

  /**
   * Copies values from `state` into the parameters and buffers in place (values of another float
   * dtype are cast). Throws a ValueError that lists every missing key, unexpected key and shape
   * mismatch; with `strict: false` only shape mismatches throw and the key lists are returned.
   */
  loadStateDict(state: Readonly<Record<string, Tensor>>, options: LoadStateDictOptions = {}): LoadStateDictResult {
    const strict = options.strict ?? true;
    for (const [key, value] of Object.entries(state)) {
      if (!(value instanceof Tensor)) {
        throw new ValueError(`${this.constructor.name}.loadStateDict: "${key}" contains a ${value === null ? "null" : typeof value}, not a Tensor; wrap the data with nb.tensor(...)`);
      }
    }
    const targets = new Map(this.members("all").filter((m) => m.persistent).map((m) => [m.name, m.value as Tensor]));
    const missingKeys = [...targets.keys()].filter((k) => !(k in state));
    const unexpectedKeys = Object.keys(state).filter((k) => !targets.has(k));
    const mismatches = Object.keys(state)
      .filter((k) => targets.has(k) && !shapesEqual(state[k].shape, (targets.get(k) as Tensor).shape))
      .map((k) => `${k}: checkpoint ${formatShape(state[k].shape)}, model ${formatShape((targets.get(k) as Tensor).shape)}`);

    const problems = [
      ...(strict && missingKeys.length > 0 ? [`missing keys: ${missingKeys.join(", ")}`] : []),
      ...(strict && unexpectedKeys.length > 0 ? [`unexpected keys: ${unexpectedKeys.join(", ")}`] : []),
      ...(mismatches.length > 0 ? [`shape mismatches: ${mismatches.join("; ")}`] : []),
    ];
    if (problems.length > 0) {
      const fixes = [
        ...(mismatches.length > 0 ? ["build the model with the configuration the checkpoint was saved from"] : []),
        ...(strict && missingKeys.length + unexpectedKeys.length > 0
          ? ["rename the checkpoint keys to the model's names from namedParameters(), or pass { strict: false } to skip missing and unexpected keys"]
          : []),
      ];
      throw new ValueError(`${this.constructor.name}.loadStateDict: the state does not match the model (${problems.join(" | ")}); ${fixes.join("; ")}`);
    }

    noGrad(() => {
      for (const [name, target] of targets) {
        if (name in state) target.assign(cast(state[name], target.dtype));
      }
    });
    return { missingKeys, unexpectedKeys };
  }
}

/** Parameters and buffers held directly by `module` (not by its submodules), named under `prefix`. */
function ownMembers(module: Module, prefix: string): Member[] {
  const join = (name: string): string => (prefix === "" ? name : `${prefix}.${name}`);
  const nonPersistent = module[moduleState].nonPersistent;
  const out: Member[] = [];
  for (const slot of slotsOf(module)) {
    if (slot.kind === "parameter" || slot.kind === "buffer") {
      out.push({ name: join(slot.name), kind: slot.kind, value: slot.value, persistent: !nonPersistent.has(slot.name) });
    }
    if (slot.kind === "list") {
      (slot.value as unknown[]).forEach((item, i) => {
        if (!isModuleLike(item)) out.push({ name: join(`${slot.name}.${i}`), kind: "parameter", value: item, persistent: true });
      });
    }
  }
  return out;
}
