// Walking the recorded graph for differentiation: which nodes lie between the sources and the roots.

import type { Node } from "../core/node.js";

/**
 * Nodes that `roots` depend on and that depend on a source, inputs before users, sources included.
 * Only tracked nodes can lie on such a path; the walk stops at sources and is iterative, so deep
 * graphs cannot overflow the stack.
 */
export function dependentOrder(roots: readonly Node[], isSource: (node: Node) => boolean): Node[] {
  const reaches = new Map<Node, boolean>();
  const order: Node[] = [];
  const stack: [Node, number][] = [];

  const visit = (node: Node): void => {
    if (reaches.has(node)) return;
    if (isSource(node)) {
      reaches.set(node, true);
      order.push(node);
      return;
    }
    reaches.set(node, false);
    if (node.tracked && node.inputs.length > 0) stack.push([node, 0]);
  };

  for (const root of roots) {
    visit(root);
    while (stack.length > 0) {
      const top = stack[stack.length - 1];
      const [node, next] = top;
      if (next < node.inputs.length) {
        top[1]++;
        visit(node.inputs[next]);
        continue;
      }
      stack.pop();
      if (node.inputs.some((input) => reaches.get(input) === true)) {
        reaches.set(node, true);
        order.push(node);
      }
    }
  }
  return order;
}
