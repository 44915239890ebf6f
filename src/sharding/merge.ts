// The all-reduce merge pass: buckets independent all-reduces of one op, axes and dtype into one step,
// so a data-parallel training step settles all its gradients with one collective.

import { InternalError } from "../runtime/errors.js";
import { stepInputs, stepOutputs, type LocalStep, type SpmdProgram } from "./program.js";

type AllReduceStep = Extract<LocalStep, { kind: "allReduce" }>;

/** Steps that become one step of the merged program: one step, or a bucket of all-reduces. */
interface MergeNode {
  readonly members: readonly number[];
  /** Original position of the node's last member, which orders the schedule. */
  readonly anchor: number;
}

/** Maps each slot to the step that writes it. Program inputs have no entry. */
function producersOf(steps: readonly LocalStep[]): Map<number, number> {
  const producers = new Map<number, number>();
  steps.forEach((step, i) => {
    for (const slot of stepOutputs(step)) producers.set(slot, i);
  });
  return producers;
}

/**
 * Returns the steps each step reads from, on any device. Devices differ only where a reduction over
 * an empty shard is a fill without inputs, so the union over devices is the true dependency set.
 */
function dependenciesOf(program: SpmdProgram): number[][] {
  const producers = producersOf(program.devices[0].steps);
  return program.devices[0].steps.map((_, i) => {
    const slots = program.devices.flatMap((local) => stepInputs(local.steps[i]));
    return [...new Set(slots.flatMap((slot) => producers.get(slot) ?? []))];
  });
}

/**
 * Returns each step's wave: the number of all-reduces on the longest chain of all-reduces it depends
 * on. Two all-reduces of one wave cannot depend on each other, because a dependency adds one.
 */
function wavesOf(steps: readonly LocalStep[], dependencies: readonly (readonly number[])[]): number[] {
  const waves: number[] = [];
  steps.forEach((_, i) => {
    let wave = 0;
    for (const d of dependencies[i]) {
      if (d >= i) throw new InternalError(`mergeAllReduces: step ${i} reads the output of step ${d}, which runs later`);
      wave = Math.max(wave, waves[d] + (steps[d].kind === "allReduce" ? 1 : 0));
    }
    waves.push(wave);
  });
  return waves;
}

function bucketKey(step: AllReduceStep, wave: number): string {
  const dtypes = [...new Set(step.outs.map((aval) => aval.dtype))].sort();
  return `${wave}|${step.op}|${step.axes.join(",")}|${dtypes.join(",")}`;
}

/** Groups the steps into nodes. Each all-reduce joins the bucket of its wave and key, and every other step stays alone. */
function mergeNodes(steps: readonly LocalStep[], waves: readonly number[]): MergeNode[] {
  const buckets = new Map<string, number[]>();
  const nodes: number[][] = [];
  steps.forEach((step, i) => {
    if (step.kind !== "allReduce") {
      nodes.push([i]);
      return;
    }
    const key = bucketKey(step, waves[i]);
    const bucket = buckets.get(key);
    if (bucket !== undefined) {
      bucket.push(i);
      return;
    }
    const members = [i];
    buckets.set(key, members);
    nodes.push(members);
  });
  return nodes.map((members) => ({ members, anchor: members[members.length - 1] }));
}

/**
 * Orders the nodes so each follows every node it reads from, keeping the original order (by anchor)
 * wherever the dependencies allow. Merging keeps the graph acyclic because waves only grow along a
 * chain and strictly grow after an all-reduce.
 */
function scheduleNodes(nodes: readonly MergeNode[], dependencies: readonly (readonly number[])[]): MergeNode[] {
  const nodeOf = new Map<number, number>();
  nodes.forEach((node, n) => node.members.forEach((i) => nodeOf.set(i, n)));
  const users: number[][] = nodes.map(() => []);
  const pending = nodes.map(() => 0);
  nodes.forEach((node, n) => {
    const sources = new Set(node.members.flatMap((i) => dependencies[i].map((d) => nodeOf.get(d) as number)));
    sources.delete(n);
    for (const source of sources) users[source].push(n);
    pending[n] = sources.size;
  });

  const ready = new MinHeap((a: number, b: number) => nodes[a].anchor - nodes[b].anchor);
  nodes.forEach((_, n) => {
    if (pending[n] === 0) ready.push(n);
  });
  const order: MergeNode[] = [];
  while (ready.size > 0) {
    const n = ready.pop();
    order.push(nodes[n]);
    for (const user of users[n]) if (--pending[user] === 0) ready.push(user);
  }
  if (order.length !== nodes.length) throw new InternalError(`mergeAllReduces: ${nodes.length - order.length} steps form a cycle after merging`);
  return order;
}

/** Builds one device's step for `node`: the step itself, or one all-reduce over every member's buffers. */
function localStep(steps: readonly LocalStep[], node: MergeNode): LocalStep {
  if (node.members.length === 1) return steps[node.members[0]];
  const members = node.members.map((i) => steps[i] as AllReduceStep);
  const [first] = members;
  return {
    kind: "allReduce",
    op: first.op,
    axes: first.axes,
    group: first.group,
    inputs: members.flatMap((s) => s.inputs),
    outputs: members.flatMap((s) => s.outputs),
    outs: members.flatMap((s) => s.outs),
  };
}

/**
 * Merges the all-reduces of each wave that share an op, mesh axes and output dtype into one bucketed
 * all-reduce. The steps are reordered so each merged step runs after every step it reads from and
 * before every step that reads its outputs. Results are unchanged, because a bucket reduces each
 * buffer exactly as its own all-reduce did.
 */
export function mergeAllReduces(program: SpmdProgram): SpmdProgram {
  const steps = program.devices[0].steps;
  const dependencies = dependenciesOf(program);
  const nodes = mergeNodes(steps, wavesOf(steps, dependencies));
  if (nodes.length === steps.length) return program;
  const order = scheduleNodes(nodes, dependencies);
  return {
    ...program,
    devices: program.devices.map((local) => ({ ...local, steps: order.map((node) => localStep(local.steps, node)) })),
  };
}

/** A binary min-heap of numbers under `compare`. */
class MinHeap {
  readonly #items: number[] = [];

  constructor(readonly compare: (a: number, b: number) => number) {}

  get size(): number {
    return this.#items.length;
  }

  push(item: number): void {
    const items = this.#items;
    items.push(item);
    let i = items.length - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (this.compare(items[parent], items[i]) <= 0) break;
      [items[parent], items[i]] = [items[i], items[parent]];
      i = parent;
    }
  }

  pop(): number {
    const items = this.#items;
    const top = items[0];
    const last = items.pop() as number;
    if (items.length === 0) return top;
    items[0] = last;
    let i = 0;
    for (;;) {
      const [left, right] = [2 * i + 1, 2 * i + 2];
      let smallest = i;
      if (left < items.length && this.compare(items[left], items[smallest]) < 0) smallest = left;
      if (right < items.length && this.compare(items[right], items[smallest]) < 0) smallest = right;
      if (smallest === i) return top;
      [items[smallest], items[i]] = [items[i], items[smallest]];
      i = smallest;
    }
  }
}
