// The sharding rule of every primitive: from the operands' specs, the spec each operand must have
// (the partitioner reshards it when it differs) and the spec of the output. Typed over all primitive
// names, so a new primitive without a sharding rule fails to compile.
//
// Rules that replicate a dimension of an operand (the partitioner gathers it first), and why:
//
// | primitive          | replicated                          | why                                                        |
// |--------------------|-------------------------------------|------------------------------------------------------------|
// | softmax/logSoftmax | `axis`                              | each row needs its own maximum and sum                     |
// | argmax/argmin      | `axis`                              | a local index is not a global index                        |
// | layerNorm          | the last axis, weight and bias      | each row needs its own mean and variance                   |
// | layerNormGrad      | every operand                       | its packed output sums the parameter gradients over rows   |
// | reduceProd         | the reduced dimensions              | there is no pending "prod" partial                         |
// | slice              | every dimension it does not keep whole | chunk bounds and the slice's start and step do not align |
// | pad                | every padded dimension              | the padding lands inside the shards                        |
// | flip               | the flipped dimensions              | flipping reverses the order of the shards too              |
// | concat             | `axis`                              | the operands' shards would interleave                      |
// | gather             | `axis` of the source                | any index may point into any shard                         |
// | scatterAdd         | `axis` of the target, all indices   | any index may point into any shard                         |
// | reshape            | merged or split dimensions, unless the split one is outermost and divides evenly | torch.chunk bounds of the merged extent differ otherwise |
// | broadcastTo        | the expanded dimensions             | a size-1 dimension has nothing to split                    |
// | random*            | the whole output and the key        | every device draws the whole tensor from the same counter  |
//
// Partial results: a pending sum survives linear ops. Those are add/sub of two sum partials, neg, mul
// or div of a sum partial by an operand not split on its axis, reshape, transpose, broadcastTo, slice,
// flip, pad by 0, concat, gather, scatterAdd, reduceSum, and matmul with a replicated other operand.
// A pending max or min survives maximum/minimum, reduceMax/reduceMin, neg (max becomes min) and the
// selections (slice, flip, pad, gather). Every other use settles it first with an all-reduce.

import type { PrimitiveName } from "../core/primitive-names.js";
import { matmulRule } from "./matmul-rule.js";
import {
  cheapestCommonDims, partialsWith, replicateDims, withoutAxes, type Dims, type Partial, type RuleArgs, type RuleResult, type ShardingRule,
} from "./rule-helpers.js";

export type { RuleArgs, RuleResult, ShardingRule };
import { InternalError, ShardingError } from "../runtime/errors.js";
import { ShardingSpec, type MeshLayout, type PartialOp } from "./spec.js";

export type ShardingRuleTable = { readonly [K in PrimitiveName]: ShardingRule<K> };

const spec = (dims: Dims, partial: Partial = {}): ShardingSpec => new ShardingSpec(dims, partial);

/** Builds a rule for one operand with the same split in and out; `mapPartial` maps each pending op to the output's, or to null to settle it. */
function unaryRule<K extends PrimitiveName>(mapPartial: (op: PartialOp) => PartialOp | null): ShardingRule<K> {
  return ({ specs: [x] }) => {
    const kept: Record<string, PartialOp> = {};
    const mapped: Record<string, PartialOp> = {};
    for (const [axis, op] of Object.entries(x.partial)) {
      const to = mapPartial(op);
      if (to === null) continue;
      kept[axis] = op;
      mapped[axis] = to;
    }
    return { inputs: [spec(x.dims, kept)], output: spec(x.dims, mapped) };
  };
}

const nonlinear = unaryRule<PrimitiveName>(() => null);
const linear = unaryRule<PrimitiveName>((op) => op);
/** -sum(a_i) = sum(-a_i) and -max(a_i) = min(-a_i). */
function negatedPartial(op: PartialOp): PartialOp {
  if (op === "max") return "min";
  if (op === "min") return "max";
  return op;
}

const negation = unaryRule<"neg">(negatedPartial);

/**
 * Operands of one shape sharing a split. `keep` returns, per operand, the partial entries it may keep
 * pending, and the output's; every other partial entry is settled first.
 */
function sameShapeRule<K extends PrimitiveName>(keep: (specs: readonly ShardingSpec[]) => { inputs: Partial[]; output: Partial }): ShardingRule<K> {
  return ({ specs, avals, mesh }) => {
    const kept = keep(specs);
    const dims = cheapestCommonDims(specs, avals, kept.inputs, mesh);
    return { inputs: specs.map((_, i) => spec(dims, kept.inputs[i])), output: spec(dims, kept.output) };
  };
}

const settleAll = <K extends PrimitiveName>(): ShardingRule<K> =>
  sameShapeRule<K>((specs) => ({ inputs: specs.map(() => ({})), output: {} }));

/** add/sub: a sum partial on an axis stays pending only when both operands have it (sum is linear). */
const addRule = sameShapeRule<"add" | "sub">(([a, b]) => {
  const both: Record<string, PartialOp> = {};
  for (const [axis, op] of Object.entries(a.partial)) if (op === "sum" && b.partial[axis] === "sum") both[axis] = "sum";
  return { inputs: [both, both], output: both };
});

/**
 * Returns the sum partials of `scaled` that may stay pending when it is multiplied or divided by
 * `other`: those on axes where `other` is neither partial nor (after the rule) split.
 */
function scalablePartials(scaled: ShardingSpec, other: ShardingSpec): Record<string, PartialOp> {
  return Object.fromEntries(Object.entries(scaled.partial).filter(([axis, op]) => op === "sum" && other.partial[axis] === undefined));
}

/** mul: sum(a_i) * b = sum(a_i * b) when b is the same on every device of the axis. */
const mulRule = sameShapeRule<"mul">(([a, b]) => {
  const fromA = scalablePartials(a, b);
  const fromB = scalablePartials(b, a);
  return { inputs: [fromA, fromB], output: { ...fromA, ...fromB } };
});

/** div: only the numerator may be a pending sum; sum(a_i) / b = sum(a_i / b). */
const divRule = sameShapeRule<"div">(([a, b]) => {
  const fromA = scalablePartials(a, b);
  return { inputs: [fromA, {}], output: fromA };
});

/** maximum/minimum: max(max_i a_i, max_i b_i) = max_i max(a_i, b_i), and a replicated b may join. */
function extremumRule<K extends "maximum" | "minimum">(op: "max" | "min"): ShardingRule<K> {
  return sameShapeRule<K>(([a, b]) => {
    const fromA: Record<string, PartialOp> = {};
    const fromB: Record<string, PartialOp> = {};
    for (const axis of new Set([...Object.keys(a.partial), ...Object.keys(b.partial)])) {
      const [pa, pb] = [a.partial[axis], b.partial[axis]];
      if ((pa === op || pa === undefined) && (pb === op || pb === undefined)) {
        if (pa !== undefined) fromA[axis] = op;
        if (pb !== undefined) fromB[axis] = op;
      }
    }
    return { inputs: [fromA, fromB], output: { ...fromA, ...fromB } };
  });
}

/** Reductions over `axes`: split reduced dimensions become partial with `op`; `op` partials pass through. */
function reduceRule<K extends "reduceSum" | "reduceMax" | "reduceMin">(op: PartialOp): ShardingRule<"reduceSum" | "reduceMax" | "reduceMin"> {
  return ({ specs: [x], params: { axes } }) => {
    const kept = partialsWith(x, [op]);
    const output: Record<string, PartialOp> = { ...kept };
    for (const axis of axes.flatMap((a) => x.dims[a])) output[axis] = op;
    return { inputs: [spec(x.dims, kept)], output: spec(x.dims.filter((_, d) => !axes.includes(d)), output) };
  };
}

/** Builds a rule that needs the `whole` dimensions of its one operand replicated and keeps the other splits. */
function wholeDimsRule<K extends PrimitiveName>(
  whole: (args: RuleArgs<K>) => readonly number[],
  outputDims: (dims: string[][], args: RuleArgs<K>) => Dims,
  keepPartial: (args: RuleArgs<K>) => boolean,
): ShardingRule<K> {
  return (args) => {
    const [x] = args.specs;
    const dims = replicateDims(x.dims, whole(args));
    const partial = keepPartial(args) ? x.partial : {};
    return { inputs: [spec(dims, partial)], output: spec(outputDims(dims, args), partial) };
  };
}

const sameDims = (dims: string[][]): Dims => dims;
const never = (): boolean => false;
const always = (): boolean => true;

/** Pairs the non-unit dimensions of a reshape into groups of equal element count. */
function reshapeGroups(from: readonly number[], to: readonly number[]): { in: number[]; out: number[] }[] {
  const inDims = from.flatMap((d, i) => (d === 1 ? [] : [i]));
  const outDims = to.flatMap((d, i) => (d === 1 ? [] : [i]));
  const groups: { in: number[]; out: number[] }[] = [];
  let [i, j] = [0, 0];
  while (i < inDims.length && j < outDims.length) {
    const group = { in: [inDims[i]], out: [outDims[j]] };
    let [pin, pout] = [from[inDims[i++]], to[outDims[j++]]];
    while (pin !== pout) {
      if (pin < pout) {
        group.in.push(inDims[i]);
        pin *= from[inDims[i++]];
      } else {
        group.out.push(outDims[j]);
        pout *= to[outDims[j++]];
      }
    }
    groups.push(group);
  }
  return groups;
}

/**
 * reshape: within each group of dimensions that map onto each other, only the outermost input
 * dimension may stay split, and its split moves to the outermost output dimension. Both outermost
 * dimensions must be divisible by the number of shards, so the chunks of the merged extent fall on
 * their boundaries. Other split dimensions of a group, and unit dimensions, are replicated.
 */
const reshapeRule: ShardingRule<"reshape"> = ({ specs: [x], avals: [aval], out, mesh }) => {
  const inDims: string[][] = x.dims.map(() => []);
  const outDims: string[][] = out.shape.map(() => []);
  if (aval.shape.every((d) => d > 0)) {
    for (const group of reshapeGroups(aval.shape, out.shape)) {
      const [first, last] = [group.in[0], group.out[0]];
      const axes = x.dims[first];
      const shards = axes.reduce((n, axis) => n * mesh.shape[mesh.axisNames.indexOf(axis)], 1);
      const aligned = (group.in.length === 1 && group.out.length === 1) || (aval.shape[first] % shards === 0 && out.shape[last] % shards === 0);
      if (!aligned) continue;
      inDims[first] = [...axes];
      outDims[last] = [...axes];
    }
  }
  return { inputs: [spec(inDims, x.partial)], output: spec(outDims, x.partial) };
};

const transposeRule: ShardingRule<"transpose"> = ({ specs: [x], params: { perm } }) => ({
  inputs: [x],
  output: spec(perm.map((p) => x.dims[p]), x.partial),
});

const broadcastRule = wholeDimsRule<"broadcastTo">(
  ({ avals: [x], params: { shape } }) => shape.flatMap((d, i) => (x.shape[i] === 1 && d !== 1 ? [i] : [])),
  sameDims,
  always,
);

const sliceRule = wholeDimsRule<"slice">(
  ({ avals: [x], params: { start, stop, step } }) => x.shape.flatMap((n, i) => (start[i] === 0 && stop[i] === n && step[i] === 1 ? [] : [i])),
  sameDims,
  always,
);

const padRule = wholeDimsRule<"pad">(
  ({ params: { low, high, interior } }) => low.flatMap((l, i) => (l === 0 && high[i] === 0 && interior[i] === 0 ? [] : [i])),
  sameDims,
  // max_i v = v and min_i v = v, but a sum over n devices of the pad value v is n v unless v is 0.
  ({ specs: [x], params: { value } }) => value === 0 || Object.values(x.partial).every((op) => op !== "sum"),
);

const flipRule = wholeDimsRule<"flip">(({ params: { axes } }) => axes, sameDims, always);

/** softmax-like: `axis` whole, no partials. */
const alongAxisRule = <K extends "softmax" | "logSoftmax">(): ShardingRule<K> =>
  wholeDimsRule<K>(({ params }) => [(params as { axis: number }).axis], sameDims, never);

const argRule = <K extends "argmax" | "argmin">(): ShardingRule<K> =>
  wholeDimsRule<K>(
    ({ params }) => [(params as { axis: number }).axis],
    (dims, { params }) => dims.filter((_, d) => d !== (params as { axis: number }).axis),
    never,
  );

const reduceProdRule = wholeDimsRule<"reduceProd">(
  ({ params: { axes } }) => axes,
  (dims, { params: { axes } }) => dims.filter((_, d) => !axes.includes(d)),
  never,
);

/** concat: `axis` whole in every operand; the other dimensions share a split; common partials stay. */
const concatRule: ShardingRule<"concat"> = ({ specs, avals, mesh, params: { axis } }) => {
  const [first] = specs;
  const common = Object.fromEntries(Object.entries(first.partial).filter(([a, op]) => specs.every((s) => s.partial[a] === op)));
  const flat = specs.map((s) => spec(replicateDims(s.dims, [axis]), s.partial));
  // Compare splits as if every operand had the first one's length along `axis`.
  const dims = replicateDims(cheapestCommonDims(flat, avals.map((a) => ({ ...a, shape: a.shape.map((d, i) => (i === axis ? avals[0].shape[axis] : d)) })), specs.map(() => common), mesh), [axis]);
  return { inputs: specs.map(() => spec(dims, common)), output: spec(dims, common) };
};

/** gather: the source's `axis` whole; the output takes the source's other splits and the indices' splits. */
const gatherRule: ShardingRule<"gather"> = ({ specs: [x, indices], params: { axis } }) => {
  const xDims = replicateDims(x.dims, [axis]);
  const taken = new Set([...xDims.flat(), ...Object.keys(x.partial)]);
  const indexDims = withoutAxes(indices.dims, taken);
  return {
    inputs: [spec(xDims, x.partial), spec(indexDims)],
    output: spec([...xDims.slice(0, axis), ...indexDims, ...xDims.slice(axis + 1)], x.partial),
  };
};

/** scatterAdd: the target's `axis` whole and the indices replicated; the updates follow the target's split. */
const scatterAddRule: ShardingRule<"scatterAdd"> = ({ specs: [x, indices, updates], params: { axis } }) => {
  const xDims = replicateDims(x.dims, [axis]);
  const partial = Object.fromEntries(Object.entries(x.partial).filter(([a, op]) => op === "sum" && updates.partial[a] === "sum"));
  const updateDims = [...xDims.slice(0, axis), ...indices.dims.map(() => []), ...xDims.slice(axis + 1)];
  return {
    inputs: [spec(xDims, partial), ShardingSpec.replicated(indices.rank), spec(updateDims, partial)],
    output: spec(xDims, partial),
  };
};

/** layerNorm: the normalized last axis whole and the affine parameters replicated; the other splits stay. */
const layerNormRule: ShardingRule<"layerNorm"> = ({ specs: [x, weight, bias] }) => {
  const dims = replicateDims(x.dims, [x.rank - 1]);
  return { inputs: [spec(dims), ShardingSpec.replicated(weight.rank), ShardingSpec.replicated(bias.rank)], output: spec(dims) };
};

/** layerNormGrad packs dx with the weight and bias gradients summed over rows, so every operand is replicated. */
const layerNormGradRule: ShardingRule<"layerNormGrad"> = ({ specs, out }) => ({
  inputs: specs.map((s) => ShardingSpec.replicated(s.rank)),
  output: ShardingSpec.replicated(out.shape.length),
});

/** random: the key is replicated and every device draws the whole output. */
const randomRule = <K extends "randomBits" | "randomUniform" | "randomNormal">(): ShardingRule<K> =>
  ({ specs: [key], out }) => ({ inputs: [ShardingSpec.replicated(key.rank)], output: ShardingSpec.replicated(out.shape.length) });

/** Explicit collectives name mesh axes themselves, so only nb.shardMap places them; the partitioner raises. */
function shardMapOnly<K extends PrimitiveName>(op: string): ShardingRule<K> {
  return () => {
    throw new ShardingError(`partition: the graph contains ${op}, an explicit collective; run graphs with explicit collectives through nb.shardMap, not nb.partition`);
  };
}

export const shardingRules: ShardingRuleTable = {
  neg: negation,
  exp: nonlinear,
  log: nonlinear,
  log1p: nonlinear,
  sqrt: nonlinear,
  rsqrt: nonlinear,
  abs: nonlinear,
  sign: nonlinear,
  sin: nonlinear,
  cos: nonlinear,
  tanh: nonlinear,
  sigmoid: nonlinear,
  relu: nonlinear,
  erf: nonlinear,
  logicalNot: nonlinear,
  cast: nonlinear,
  identity: linear,
  stopGradient: linear,

  add: addRule,
  sub: addRule,
  mul: mulRule,
  div: divRule,
  pow: settleAll(),
  maximum: extremumRule("max"),
  minimum: extremumRule("min"),
  equal: settleAll(),
  notEqual: settleAll(),
  less: settleAll(),
  lessEqual: settleAll(),
  greater: settleAll(),
  greaterEqual: settleAll(),
  logicalAnd: settleAll(),
  logicalOr: settleAll(),
  where: settleAll(),

  reduceSum: reduceRule("sum"),
  reduceMax: reduceRule("max"),
  reduceMin: reduceRule("min"),
  reduceProd: reduceProdRule,
  argmax: argRule(),
  argmin: argRule(),

  softmax: alongAxisRule(),
  logSoftmax: alongAxisRule(),
  layerNorm: layerNormRule,
  layerNormGrad: layerNormGradRule,

  matmul: matmulRule,

  reshape: reshapeRule,
  transpose: transposeRule,
  broadcastTo: broadcastRule,
  slice: sliceRule,
  pad: padRule,
  concat: concatRule,
  flip: flipRule,

  gather: gatherRule,
  scatterAdd: scatterAddRule,
  checkIndices: nonlinear,

  randomBits: randomRule(),
  randomUniform: randomRule(),
  randomNormal: randomRule(),

  psum: shardMapOnly("psum"),
  pmean: shardMapOnly("pmean"),
  pmax: shardMapOnly("pmax"),
  allGatherAxis: shardMapOnly("allGather"),
  psumScatter: shardMapOnly("psumScatter"),
  allToAllAxis: shardMapOnly("allToAll"),
  ppermute: shardMapOnly("ppermute"),
  axisIndex: shardMapOnly("axisIndex"),
  pvary: shardMapOnly("pvary"),
  // Created with its value, so the partitioner places it as a constant and never calls its rule.
  shardMapCall: () => {
    throw new InternalError("partition: a shardMapCall node has its value, so the partitioner must place it as a constant");
  },
};

/** Returns the sharding rule of `prim`. */
export function shardingRule<K extends PrimitiveName>(prim: K): ShardingRule<K> {
  return shardingRules[prim] as ShardingRule<K>;
}
