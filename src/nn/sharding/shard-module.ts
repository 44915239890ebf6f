// Placing a module's parameters on a mesh by name patterns, with ready-made tensor-parallel rules.

import type { Tensor } from "../../core/tensor.js";
import { ShardingError } from "../../runtime/errors.js";
import { checkMesh, NamedSharding } from "../../sharding/api.js";
import type { DeviceMesh } from "../../sharding/mesh.js";
import { checkSpec, P, ShardingSpec } from "../../sharding/spec.js";
import type { Module } from "../module.js";
import { MultiHeadAttention } from "../layers/attention.js";

/**
 * Rules matched in order against dotted parameter names; the first match wins and unmatched
 * parameters are replicated. A string pattern is a glob: `*` matches one name segment, `**` any run
 * of segments, so "layers.*.linear1.weight" matches every layer's first feed-forward weight.
 */
export type ShardingRules = readonly (readonly [pattern: string | RegExp, spec: ShardingSpec])[];

/** Compiles a glob; a leading `**.` also matches no segment at all, so "**.linear1.weight" matches "linear1.weight". */
function globToRegExp(glob: string): RegExp {
  const segments = glob.split(".");
  const anyPrefix = segments.length > 1 && segments[0] === "**";
  const escaped = (anyPrefix ? segments.slice(1) : segments).map((segment) => {
    if (segment === "**") return ".+";
    return segment.replace(/[|\\{}()[\]^$+?]/g, "\\$&").replace(/\*/g, "[^.]+");
  });
  return new RegExp(`^${anyPrefix ? "(?:.+\\.)?" : ""}${escaped.join("\\.")}$`);
}

/**
 * Sets the sharding of every parameter and buffer of `model` in place (the tensors keep their data)
 * and returns the model. Compiled functions called with the model then run on `mesh`.
 */
export function shardModule<M extends Module>(model: M, mesh: DeviceMesh, rules: ShardingRules = []): M {
  checkMesh(mesh, "shardModule");
  const compiled = rules.map(([pattern, spec]) => ({ test: typeof pattern === "string" ? globToRegExp(pattern) : pattern, pattern, spec, used: false }));
  const tensors = [...model.namedParameters(), ...model.namedBuffers()];
  // Every spec is decided and checked before any tensor changes, so a failed call places nothing.
  const placements = tensors.map(([name, tensor]) => {
    const rule = compiled.find((r) => r.test.test(name));
    if (rule !== undefined) rule.used = true;
    const spec = rule?.spec ?? ShardingSpec.replicated(tensor.ndim);
    return new NamedSharding(mesh, checkSpec(spec, tensor.shape, mesh, `shardModule: parameter "${name}" of shape [${tensor.shape.join(", ")}]`));
  });
  const unused = compiled.filter((r) => !r.used).map((r) => String(r.pattern));
  if (unused.length > 0) {
    const names = model.namedParameters().slice(0, 6).map(([name]) => name);
    throw new ShardingError(
      `shardModule: no parameter matches ${unused.map((p) => JSON.stringify(p)).join(", ")}; parameter names look like ${names.join(", ")}. ` +
        "Fix the pattern (* is one name segment, ** any run of them), or drop the rule",
    );
  }
  tensors.forEach(([, tensor], i) => (tensor.sharding = placements[i]));
  return model;
}

/**
 * Places `model` for Megatron-style tensor parallelism along `axis`: feed-forward blocks column- then
 * row-parallel (feedForwardParallel), every attention layer's heads split along `axis` with its
 * output projection row-parallel, and everything else replicated. `rules` come first. Returns the model.
 */
export function tensorParallel<M extends Module>(model: M, mesh: DeviceMesh, axis = "model", rules: ShardingRules = []): M {
  checkMesh(mesh, "tensorParallel");
  const names = new Set(model.namedParameters().map(([name]) => name));
  const attention = model.namedModules().filter((entry): entry is [string, MultiHeadAttention] => entry[1] instanceof MultiHeadAttention);
  const outProjections = attention.map(([name]) => `${name === "" ? "" : `${name}.`}outProj.weight`);
  const feedForward = feedForwardParallel(axis).filter(([pattern]) => [...names].some((name) => globToRegExp(pattern as string).test(name)));
  shardModule(model, mesh, [...rules, ...feedForward, ...outProjections.map((name): [string, ShardingSpec] => [name, P(null, axis)])]);
  for (const [, layer] of attention) layer.headAxis = axis;
  return model;
}

/**
 * Megatron-style rules for the feed-forward blocks of TransformerEncoderLayer modules: linear1 split
 * by output features (column-parallel), linear2 by input features (row-parallel), so the pair needs
 * one all-reduce in the forward pass. Weights are stored [out, in], as in PyTorch.
 * tensorParallel also splits the attention heads.
 */
export function feedForwardParallel(axis = "model", prefix = "**"): ShardingRules {
  return [
    [`${prefix}.linear1.weight`, P(axis, null)],
    [`${prefix}.linear1.bias`, P(axis)],
    [`${prefix}.linear2.weight`, P(null, axis)],
  ];
}
