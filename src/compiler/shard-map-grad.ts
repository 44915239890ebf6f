// Derivatives of an nb.shardMap call with respect to its arguments, for grad and jvp taken outside the
// call. Each runs another shardMap call on the same mesh whose body is the VJP or JVP of the original
// body, so collectives are transposed by their own rules.
//
// Inside the body every device differentiates its own outputs, and a body input counts once per device,
// except that a psum, pmean or pmax result is one value for its group. `outputSeed` turns the global
// output's cotangent into seeds that fit this, and the gradient of an argument that several devices
// hold is the sum of theirs.

import { vjp } from "../autograd/transforms.js";
import { jvp } from "../autograd/forward.js";
import { zeros } from "../core/creation.js";
import { isFloating } from "../core/dtype.js";
import { treeFlatten, treeUnflatten } from "../core/pytree.js";
import type { Tensor } from "../core/tensor.js";
import { div } from "../ops/elementwise.js";
import { psum } from "../ops/collective.js";
import { installShardMapCallRules } from "../ops/defs/shard-map-call.js";
import { perDeviceAxes } from "../sharding/axis-env.js";
import type { MeshLayout, ShardingSpec } from "../sharding/spec.js";
import { callRecordOf, shardMap, type CallRecord } from "./shard-map.js";

/** Returns the body as a function of its flat argument leaves that returns its flat output leaves. */
function flatBody(record: CallRecord): (...leaves: Tensor[]) => Tensor[] {
  return (...leaves) => treeFlatten(record.fn(...(treeUnflatten(record.argsTreedef, leaves) as never[]))).leaves;
}

function axisSize(mesh: MeshLayout, axis: string): number {
  return mesh.shape[mesh.axisNames.indexOf(axis)];
}

/**
 * Returns the seed of one output's VJP on a device from the device's chunk of the output's cotangent.
 * Where a psum, pmean or pmax made the output one value for a group but the out spec names the axis,
 * the global output contains a copy per device, so the seed is the sum of the copies' cotangents. Where the
 * output counts per device but the out spec replicates it, the global output is one of equal copies,
 * so each device's seed is its share of the cotangent.
 */
function outputSeed(cotangent: Tensor, output: Tensor, spec: ShardingSpec, mesh: MeshLayout): Tensor {
  if (!isFloating(cotangent.dtype)) return cotangent;
  const named = new Set(spec.axes);
  const perDevice = perDeviceAxes(output.node);
  const copiesOfShared = mesh.axisNames.filter((axis) => !perDevice.has(axis) && named.has(axis));
  const summed = copiesOfShared.length === 0 ? cotangent : psum(cotangent, copiesOfShared);
  const sharers = [...perDevice].filter((axis) => !named.has(axis)).reduce((n, axis) => n * axisSize(mesh, axis), 1);
  return sharers === 1 ? summed : div(summed, sharers);
}

/** Sums a device's gradient of an argument over the devices that hold the same shard of it. */
function sumOverHolders(gradient: Tensor, spec: ShardingSpec, mesh: MeshLayout): Tensor {
  const named = new Set(spec.axes);
  const holders = mesh.axisNames.filter((axis) => !named.has(axis));
  return holders.length === 0 ? gradient : psum(gradient, holders);
}

/** Computes the VJP of output `output` of the call with a shardMap call of the body's VJP, seeded with that output's cotangent. */
function callVjp(ct: Tensor, inputs: readonly Tensor[], out: Tensor, { output }: { readonly output: number }): (Tensor | null)[] {
  const record = callRecordOf(out.node);
  const { mesh } = record;
  const argSpecs = record.inputs.map((v) => v.spec);
  const outSpecs = record.outputs.map((v) => v.spec);
  const cotangents = record.outputs.map(({ aval }, i) => (i === output ? ct : zeros(aval.shape, { dtype: aval.dtype })));
  const body = flatBody(record);
  const transposed = shardMap((...locals: Tensor[]) => {
    const [outs, pull] = vjp(body, ...locals.slice(0, inputs.length));
    const seeds = outs.map((o, i) => outputSeed(locals[inputs.length + i], o, outSpecs[i], mesh));
    return (pull(seeds) as Tensor[]).map((g, i) => sumOverHolders(g, argSpecs[i], mesh));
  }, { mesh, inSpecs: [...argSpecs, ...outSpecs], outSpecs: argSpecs });
  const gradients = transposed(...inputs, ...cotangents);
  return gradients.map((g, i) => (isFloating(inputs[i].dtype) ? g : null));
}

/** Computes the JVP of output `output` of the call with a shardMap call of the body's JVP along the arguments' tangents. */
function callJvp(tangents: readonly (Tensor | null)[], inputs: readonly Tensor[], _out: Tensor, { output }: { readonly output: number }, record: CallRecord): Tensor | null {
  if (tangents.every((t) => t === null)) return null;
  const argSpecs = record.inputs.map((v) => v.spec);
  const body = flatBody(record);
  const pushed = shardMap((...locals: Tensor[]) => {
    const [, outTangents] = jvp(body, locals.slice(0, inputs.length), locals.slice(inputs.length));
    return outTangents[output];
  }, { mesh: record.mesh, inSpecs: [...argSpecs, ...argSpecs], outSpecs: record.outputs[output].spec });
  return pushed(...inputs, ...inputs.map((x, i) => tangents[i] ?? zeros(x.shape, { dtype: x.dtype })));
}

installShardMapCallRules({
  vjp: callVjp,
  jvp: (tangents, inputs, out, params) => callJvp(tangents, inputs, out, params, callRecordOf(out.node)),
});
