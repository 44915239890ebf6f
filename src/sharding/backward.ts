// Backward spec propagation: a value whose every use reshards it to one spec S is computed directly in S
// when its sharding rule allows it and that moves fewer bytes or, at equal bytes, computes less. So no
// device computes data that a split then drops, and a widening cast runs after the gather.

import type { Aval, Node } from "../core/node.js";
import type { PrimitiveName } from "../core/primitive-names.js";
import { axisSize, reshardCost } from "./reshard.js";
import { bytesOf, elementsOf, type RuleResult } from "./rule-helpers.js";
import { shardingRule } from "./rules.js";
import { ShardingSpec, type MeshLayout } from "./spec.js";

/** A forward partitioning pass's record of the nodes it computed. */
export interface PassRecord {
  /** Op nodes in the order the pass computed them. */
  readonly order: readonly Node[];
  /** Spec each op node's value was computed in, before any constraint on it. */
  readonly computed: ReadonlyMap<Node, ShardingSpec>;
  /**
   * Specs each node's value was resharded to, keyed by use: `${consumer.id}:${operand}` for an op,
   * `output ${i}` for a graph output, and `constraint` for a sharding constraint.
   */
  readonly demands: ReadonlyMap<Node, ReadonlyMap<string, ShardingSpec>>;
}

/** Returns the key under which `consumer` records its demand on operand `operand`. */
export function useKey(consumer: Node, operand: number): string {
  return `${consumer.id}:${operand}`;
}

/** Returns the spec an operand needs so a same-shape op can produce `target`: the split of `target`, with the operand's pending partials that `target` keeps. */
export function operandSpecFor(target: ShardingSpec, operand: ShardingSpec): ShardingSpec {
  const partial = Object.fromEntries(Object.entries(operand.partial).filter(([axis]) => target.partial[axis] !== undefined));
  return new ShardingSpec(target.dims, partial);
}

function uniqueDemand(demands: ReadonlyMap<string, ShardingSpec> | undefined): ShardingSpec | undefined {
  if (demands === undefined || demands.size === 0) return undefined;
  const [first, ...rest] = demands.values();
  return rest.every((spec) => spec.equals(first)) ? first : undefined;
}

function sameShape(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((d, i) => d === b[i]);
}

/**
 * Chooses, from the last node back, the nodes to compute directly in the one spec all their uses
 * need. Only ops whose operands all have the output's shape qualify, because only for those the
 * operand specs follow from the output spec. Choosing a node moves its own demands onto its operands,
 * so a chain of such ops is chosen whole.
 * TODO: broadcastTo, transpose and reductions would need their own map from output to operand specs.
 */
export function planBackwardSpecs(record: PassRecord): Map<Node, ShardingSpec> {
  const demands = new Map([...record.demands].map(([node, uses]) => [node, new Map(uses)]));
  const preferred = new Map<Node, ShardingSpec>();
  for (let k = record.order.length - 1; k >= 0; k--) {
    const node = record.order[k];
    const target = uniqueDemand(demands.get(node));
    const computed = record.computed.get(node);
    if (target === undefined || computed === undefined || target.equals(computed)) continue;
    if (!node.inputs.every((input) => sameShape(input.shape, node.shape))) continue;
    preferred.set(node, target);
    node.inputs.forEach((input, i) => {
      const uses = demands.get(input);
      const current = uses?.get(useKey(node, i));
      if (uses !== undefined && current !== undefined) uses.set(useKey(node, i), operandSpecFor(target, current));
    });
  }
  return preferred;
}

/** Elements of one device's output shard under `spec`, as if every split divided evenly. */
function shardElements(aval: Aval, spec: ShardingSpec, mesh: MeshLayout): number {
  return spec.dims.flat().reduce((n, axis) => n / axisSize(mesh, axis), elementsOf(aval));
}

function operandsCost(operands: readonly { spec: ShardingSpec; aval: Aval }[], targets: readonly ShardingSpec[], mesh: MeshLayout): number {
  return operands.reduce((sum, v, i) => sum + reshardCost(v.spec, targets[i], elementsOf(v.aval), bytesOf(v.aval), mesh), 0);
}

/**
 * Returns the rule's decision for computing `node` directly in `preferred`, or undefined when the rule
 * does not produce `preferred` from the matching operand specs, or when that would move more bytes
 * than computing as `decision` specifies and resharding the result. On equal bytes it is taken only if
 * each device computes fewer elements, so a pending partial result is not settled earlier for nothing.
 */
export function decideDirect(
  node: Node,
  operands: readonly { spec: ShardingSpec; aval: Aval }[],
  decision: RuleResult,
  preferred: ShardingSpec,
  mesh: MeshLayout,
): RuleResult | undefined {
  const specs = decision.inputs.map((spec) => operandSpecFor(preferred, spec));
  const rule = shardingRule(node.prim as PrimitiveName);
  const direct = rule({ specs, avals: operands.map((v) => v.aval), out: node.aval, params: node.params as never, mesh });
  if (!direct.output.equals(preferred)) return undefined;

  const directBytes = operandsCost(operands, direct.inputs, mesh);
  const forwardBytes = operandsCost(operands, decision.inputs, mesh) + reshardCost(decision.output, preferred, elementsOf(node.aval), bytesOf(node.aval), mesh);
  if (directBytes < forwardBytes) return direct;
  if (directBytes > forwardBytes) return undefined;
  return shardElements(node.aval, preferred, mesh) < shardElements(node.aval, decision.output, mesh) ? direct : undefined;
}
