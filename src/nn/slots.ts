// Field discovery for Module: which own fields are parameters, buffers, submodules or lists of them.

import { ValueError } from "../runtime/errors.js";
import { Parameter } from "./parameter.js";

/** The role of a field in the module tree; "list" is an array of modules and parameters. */
export type SlotKind = "parameter" | "buffer" | "module" | "list";

/** Per-instance bookkeeping, kept under a symbol so that it never shows up among the fields. */
export interface ModuleState {
  training: boolean;
  /** Fields whose kind was set by registerParameter/registerBuffer/registerModule or by a pytree rebuild. */
  readonly declared: Map<string, SlotKind>;
  /** Buffers that stateDict leaves out. */
  readonly nonPersistent: Set<string>;
}

export const moduleState: unique symbol = Symbol("nabla.nn.Module.state");

/** Anything that carries module state; Module is the only class that does. */
export interface HasModuleState {
  readonly [moduleState]: ModuleState;
}

export type Slot =
  | { readonly kind: "parameter" | "buffer" | "list" | "static"; readonly name: string; readonly value: unknown }
  | { readonly kind: "module"; readonly name: string; readonly value: HasModuleState };

export function newModuleState(training = true): ModuleState {
  return { training, declared: new Map(), nonPersistent: new Set() };
}

export function isModuleLike(value: unknown): value is HasModuleState {
  return typeof value === "object" && value !== null && moduleState in value;
}

/** True for an array that contains modules or parameters, which makes it a list slot. */
function isMemberArray(name: string, value: unknown): value is readonly unknown[] {
  if (!Array.isArray(value) || value.length === 0) return false;
  const members = value.filter((v) => isModuleLike(v) || v instanceof Parameter).length;
  if (members === 0) return false;
  if (members !== value.length) {
    throw new ValueError(
      `Module: field "${name}" mixes modules or parameters with other values; ` +
        "keep modules and parameters in an array of their own so that every element is registered",
    );
  }
  return true;
}

function inferKind(name: string, value: unknown): Slot["kind"] {
  if (value instanceof Parameter) return "parameter";
  if (isModuleLike(value)) return "module";
  if (isMemberArray(name, value)) return "list";
  return "static";
}

/**
 * The fields of `module` in assignment order (the order of `Object.keys`), each with its kind.
 * Declared kinds win; other fields are classified by their value. A plain Tensor that was not
 * registered as a buffer is a constant: static, outside the pytree leaves and the state dict, as
 * a plain tensor attribute is in PyTorch.
 */
export function slotsOf(module: HasModuleState): Slot[] {
  const record = module as unknown as Record<string, unknown>;
  const declared = module[moduleState].declared;
  return Object.keys(record).map((name) => {
    const value = record[name];
    const kind = declared.get(name) ?? inferKind(name, value);
    if (kind === "module" && !isModuleLike(value)) return { kind: "static", name, value };
    if (kind === "list" && !Array.isArray(value)) return { kind: "static", name, value };
    return { kind, name, value } as Slot;
  });
}

/** The kind of a list element: submodules recurse, everything else is a parameter. */
export function listItemKind(item: unknown): "module" | "parameter" {
  return isModuleLike(item) ? "module" : "parameter";
}

