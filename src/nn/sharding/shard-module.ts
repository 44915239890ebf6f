// Placing a module's parameters on a mesh by name patterns, with ready-made tensor-parallel rules.

import type { Tensor } from "../../core/tensor.js";
import { ShardingError } from "../../runtime/errors.js";
import { NamedSharding } from "../../sharding/api.js";
import type { DeviceMesh } from "../../sharding/mesh.js";
import { checkSpec, P, ShardingSpec } from "../../sharding/spec.js";
import type { Module } from "../module.js";

/**
 * Rules matched in order against dotted parameter names; the first match wins and unmatched
 * parameters are replicated. A string pattern is a glob: `*` matches one name segment, `**` any run
 * of segments, so "layers.*.linear1.weight" matches every layer's first feed-forward weight.
 */
export type ShardingRules = readonly (readonly [pattern: string | RegExp, spec: ShardingSpec])[];

function globToRegExp(glob: string): RegExp {
  const escaped = glob.split(".").map((segment) => {
    if (segment === "**") return ".+";
    return segment.replace(/[|\\{}()[\]^$+?]/g, "\\$&").replace(/\*/g, "[^.]+");
  });
  return new RegExp(`^${escaped.join("\\.")}$`);
}

/**
 * Sets the sharding of every parameter and buffer of `model` in place (the tensors keep their data)
 * and returns the model. Compiled functions called with the model then run on `mesh`.
 */
export function shardModule<M extends Module>(model: M, mesh: DeviceMesh, rules: ShardingRules = []): M {
  const compiled = rules.map(([pattern, spec]) => ({ test: typeof pattern === "string" ? globToRegExp(pattern) : pattern, pattern, spec, used: false }));
  const place = (name: string, tensor: Tensor): void => {
    const rule = compiled.find((r) => r.test.test(name));
    if (rule !== undefined) rule.used = true;
    const spec = rule?.spec ?? ShardingSpec.replicated(tensor.ndim);
    tensor.sharding = new NamedSharding(mesh, checkSpec(spec, tensor.shape, mesh, `shardModule: parameter "${name}" of shape [${tensor.shape.join(", ")}]`));
  };
  for (const [name, tensor] of model.namedParameters()) place(name, tensor);
  for (const [name, tensor] of model.namedBuffers()) place(name, tensor);
  const unused = compiled.filter((r) => !r.used).map((r) => String(r.pattern));
  if (unused.length > 0) {
    const names = model.namedParameters().slice(0, 6).map(([name]) => name);
    throw new ShardingError(`shardModule: no parameter matches ${unused.map((p) => JSON.stringify(p)).join(", ")}; parameter names look like ${names.join(", ")}`);
  }
  return model;
}

/**
 * Megatron-style rules for the feed-forward blocks of TransformerEncoderLayer modules: linear1 split
 * by output features (column-parallel), linear2 by input features (row-parallel), so the pair needs
 * one all-reduce in the forward pass. Weights are stored [out, in], as in PyTorch.
 * NOTE: the attention's packed q/k/v projection stays replicated. Its torch.chunk bounds would not
 * fall on the q/k/v boundaries, so a split would not be by heads.
 */
export function feedForwardParallel(axis = "model", prefix = "**"): ShardingRules {
  return [
    [`${prefix}.linear1.weight`, P(axis, null)],
    [`${prefix}.linear1.bias`, P(axis)],
    [`${prefix}.linear2.weight`, P(null, axis)],
  ];
}
