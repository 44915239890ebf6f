// Realization: turns the pending part of the graph into a program and runs it on the reference interpreter.

import { TracerError } from "../runtime/errors.js";
import { interpret, type Program, type Step } from "../runtime/interpreter.js";
import type { Storage } from "../runtime/storage.js";
import { formatShape } from "./shape.js";
import { Node } from "./node.js";
import { evalRule } from "./primitive.js";
import type { ParamsOf, PrimitiveName } from "./primitive-names.js";

/** Unrealized op nodes that `roots` depend on, inputs before users; iterative so deep graphs cannot overflow the stack. */
export function pendingNodes(roots: readonly Node[]): Node[] {
  const order: Node[] = [];
  const seen = new Set<Node>();
  const stack: [Node, number][] = [];

  const push = (node: Node): void => {
    if (seen.has(node) || node.realized) return;
    if (node.kind === "placeholder") {
      throw new TracerError(
        `a concrete value of a traced tensor (shape ${formatShape(node.shape)}, ${node.dtype}) was requested while tracing; ` +
          "values are only known when the compiled function runs, so avoid .item(), .toArray() and data-dependent control flow inside compile",
      );
    }
    seen.add(node);
    stack.push([node, 0]);
  };

  roots.forEach(push);
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
  return order;
}

function stepFor(node: Node, slots: Map<Node, number>): Step {
  const prim = node.prim as PrimitiveName;
  const rule = evalRule(prim);
  const avals = node.inputs.map((i) => i.aval);
  const params = node.params as ParamsOf<typeof prim>;
  return {
    label: `${prim}#${node.id}`,
    inputs: node.inputs.map((i) => slots.get(i) as number),
    output: slots.get(node) as number,
    run: (inputs) => rule.impl(inputs, avals, params, node.aval),
  };
}

/** Builds the program that computes `order`, reading the already realized nodes it uses as inputs. */
function buildProgram(order: readonly Node[]): { program: Program; inputs: Storage[]; slots: Map<Node, number> } {
  const slots = new Map<Node, number>();
  const inputSlots: number[] = [];
  const inputs: Storage[] = [];

  for (const node of order) {
    for (const input of node.inputs) {
      if (!input.realized || slots.has(input)) continue;
      slots.set(input, slots.size);
      inputSlots.push(slots.size - 1);
      inputs.push(input.buffer as Storage);
    }
    slots.set(node, slots.size);
  }

  const steps = order.map((node) => stepFor(node, slots));
  return { program: { slotCount: slots.size, inputSlots, steps }, inputs, slots };
}

/** Computes every pending node behind `roots`. Untracked nodes then drop their inputs so the graph behind them can be freed. */
export function realizeNodes(roots: readonly Node[]): void {
  const order = pendingNodes(roots);
  if (order.length === 0) return;

  const { program, inputs, slots } = buildProgram(order);
  const results = interpret(program, inputs);

  for (const node of order) {
    node.buffer = results[slots.get(node) as number];
    if (!node.tracked) node.inputs = [];
  }
}
