// Scheduling a graph: the op nodes to compute in dependency order, and the straight-line program that runs them.

import { InternalError } from "../runtime/errors.js";
import type { Program, Step } from "../runtime/interpreter.js";
import type { Node } from "./node.js";
import { evalRule } from "./primitive.js";
import type { ParamsOf, PrimitiveName } from "./primitive-names.js";

export interface Schedule {
  /** Op nodes to compute, inputs before users. */
  readonly order: readonly Node[];
  /** Nodes the order reads but does not compute (realized nodes and placeholders), in first-use order. */
  readonly boundary: readonly Node[];
}

/**
 * Orders the op nodes behind `roots` that `isBoundary` does not stop at; iterative, so deep graphs
 * cannot overflow the stack. `onBoundary` may reject a boundary node by throwing.
 */
export function scheduleGraph(roots: readonly Node[], isBoundary: (node: Node) => boolean): Schedule {
  const order: Node[] = [];
  const boundary: Node[] = [];
  const seen = new Set<Node>();
  const stack: [Node, number][] = [];

  const push = (node: Node): void => {
    if (seen.has(node)) return;
    seen.add(node);
    if (isBoundary(node) || node.kind !== "op") boundary.push(node);
    else stack.push([node, 0]);
  };

  for (const root of roots) {
    push(root);
    while (stack.length > 0) {
      const top = stack[stack.length - 1];
      const [node, next] = top;
      if (next < node.inputs.length) {
        top[1]++;
        push(node.inputs[next]);
      } else {
        stack.pop();
        order.push(node);
      }
    }
  }
  return { order, boundary };
}

function stepFor(node: Node, slots: ReadonlyMap<Node, number>): Step {
  const prim = node.prim as PrimitiveName;
  const rule = evalRule(prim);
  const avals = node.inputs.map((i) => i.aval);
  const params = node.params as ParamsOf<typeof prim>;
  const out = node.aval;
  return {
    label: `${prim}#${node.id}`,
    inputs: node.inputs.map((i) => slotOf(i, slots)),
    output: slotOf(node, slots),
    run: (inputs) => rule.impl(inputs, avals, params, out),
  };
}

function slotOf(node: Node, slots: ReadonlyMap<Node, number>): number {
  const slot = slots.get(node);
  if (slot === undefined) throw new InternalError(`node ${node.id} has no slot in the program`);
  return slot;
}

/** A program whose input slots are `inputs` (in that order) and which computes `order`; also returns each node's slot. */
export function buildProgram(order: readonly Node[], inputs: readonly Node[]): { program: Program; slots: Map<Node, number> } {
  const slots = new Map<Node, number>();
  for (const node of inputs) slots.set(node, slots.size);
  for (const node of order) slots.set(node, slots.size);

  const steps = order.map((node) => stepFor(node, slots));
  const inputSlots = inputs.map((_, i) => i);
  return { program: { slotCount: slots.size, inputSlots, steps }, slots };
}

/**
 * Returns a structural signature of a schedule: primitives, parameters, shapes, dtypes and wiring, but not data.
 * Two graphs with the same signature run the same program on different inputs.
 */
export function scheduleSignature(schedule: Schedule): string {
  const index = new Map<Node, number>();
  const parts: string[] = [];
  for (const node of schedule.boundary) {
    index.set(node, index.size);
    parts.push(`in:${node.dtype}[${node.shape.join(",")}]`);
  }
  for (const node of schedule.order) {
    index.set(node, index.size);
    const args = node.inputs.map((i) => index.get(i)).join(",");
    parts.push(`${node.prim}${JSON.stringify(node.params, exactNumber)}(${args}):${node.dtype}[${node.shape.join(",")}]`);
  }
  return parts.join(";");
}

/** JSON replacer that keeps NaN, the infinities and -0 apart, which plain JSON writes as null or 0. */
export function exactNumber(_key: string, value: unknown): unknown {
  if (typeof value !== "number") return value;
  if (Object.is(value, -0)) return "-0";
  return Number.isFinite(value) ? value : String(value);
}
