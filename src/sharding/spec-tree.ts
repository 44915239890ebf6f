// Spec trees: the specs of a pytree of tensors given as a prefix of its structure, like JAX's in_specs
// and out_specs. A spec at some position applies to every tensor leaf below it.

import { treeFlatten } from "../core/pytree.js";
import { formatShape } from "../core/shape.js";
import { Tensor } from "../core/tensor.js";
import { ShardingError } from "../runtime/errors.js";
import { ShardingSpec } from "./spec.js";

/** A ShardingSpec, or an array or plain object of spec trees that mirrors part of a value's structure. */
export type SpecTree = ShardingSpec | readonly SpecTree[] | { readonly [key: string]: SpecTree };

/** A tensor leaf's spec and a name for it in errors, such as "argument 1.weight". */
export interface LeafSpec {
  readonly spec: ShardingSpec;
  readonly name: string;
}

function describeValue(value: unknown): string {
  if (value instanceof Tensor) return `a tensor of shape ${formatShape(value.shape)}`;
  if (Array.isArray(value)) return `an array of ${value.length} elements`;
  if (typeof value === "object" && value !== null && Object.getPrototypeOf(value) === Object.prototype) return `an object with keys [${Object.keys(value).join(", ")}]`;
  if (value === null || value === undefined) return String(value);
  return `a ${typeof value}`;
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (typeof value !== "object" || value === null) return false;
  const proto = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}

/** Repeats `spec` for each tensor leaf of `value`. A single leaf is named by the path, and several are numbered. */
function repeatSpec(spec: ShardingSpec, value: unknown, path: string): LeafSpec[] {
  const count = treeFlatten(value).leaves.length;
  return Array.from({ length: count }, (_, i) => ({ spec, name: count === 1 ? path : `${path} (leaf ${i})` }));
}

function arraySpecs(prefix: readonly SpecTree[], value: unknown, path: string, child: (path: string, key: string | number) => string): LeafSpec[] {
  if (!Array.isArray(value) || value.length !== prefix.length) {
    throw new ShardingError(`${path}: the specs are an array of ${prefix.length} entries but the value is ${describeValue(value)}; give one spec per element, or one spec for the whole value`);
  }
  return value.flatMap((element, i) => matchSpecs(prefix[i], element, child(path, i), child));
}

function objectSpecs(prefix: { readonly [key: string]: SpecTree }, value: unknown, path: string, child: (path: string, key: string | number) => string): LeafSpec[] {
  const keys = Object.keys(prefix);
  if (!isPlainObject(value) || Object.keys(value).length !== keys.length || keys.some((key) => !(key in value))) {
    throw new ShardingError(`${path}: the specs are an object with keys [${keys.join(", ")}] but the value is ${describeValue(value)}; give one spec per key, or one spec for the whole value`);
  }
  // Leaves follow the value's key order, as treeFlatten does.
  return Object.keys(value).flatMap((key) => matchSpecs(prefix[key], value[key], child(path, key), child));
}

function matchSpecs(prefix: SpecTree, value: unknown, path: string, child: (path: string, key: string | number) => string): LeafSpec[] {
  if (prefix instanceof ShardingSpec) return repeatSpec(prefix, value, path);
  if (Array.isArray(prefix)) return arraySpecs(prefix, value, path, child);
  if (isPlainObject(prefix)) return objectSpecs(prefix as { readonly [key: string]: SpecTree }, value, path, child);
  throw new ShardingError(`${path}: ${describeValue(prefix)} is not a ShardingSpec; build specs with nb.P(...), or nest them in arrays and plain objects`);
}

function childPath(path: string, key: string | number): string {
  return typeof key === "number" ? `${path}[${key}]` : `${path}.${key}`;
}

/**
 * Returns the spec of every tensor leaf of the argument list `args`, in treeFlatten order, from
 * `inSpecs`: one spec for all arguments or one spec tree per argument.
 */
export function argumentSpecs(inSpecs: SpecTree, args: readonly unknown[]): LeafSpec[] {
  const child = (path: string, key: string | number): string => (path === "arguments" ? `argument ${key}` : childPath(path, key));
  // One spec for all arguments is the same spec for each, so that errors name the argument.
  const prefix = inSpecs instanceof ShardingSpec ? args.map(() => inSpecs) : inSpecs;
  return matchSpecs(prefix, args, "arguments", child);
}

/** Returns the spec of every tensor leaf of `output`, in treeFlatten order, from the prefix `outSpecs`. */
export function outputSpecs(outSpecs: SpecTree, output: unknown): LeafSpec[] {
  return matchSpecs(outSpecs, output, "output", childPath);
}
