// A stable text form of a scheduled graph, for NABLA_DEBUG=2 and snapshot tests.

import type { Node } from "./node.js";

function describe(node: Node): string {
  return `${node.dtype}${node.aval.weak === true ? "~" : ""}[${node.shape.join(",")}]`;
}

/** Prints one line per node: boundary nodes as inputs or constants, then each op with its operands and parameters. */
export function formatGraph(order: readonly Node[], boundary: readonly Node[], outputs: readonly Node[]): string {
  const names = new Map<Node, string>();
  const lines: string[] = [];
  for (const node of boundary) {
    names.set(node, `%${names.size}`);
    lines.push(`${names.get(node)} = ${node.kind === "placeholder" ? "input" : "constant"} : ${describe(node)}`);
  }
  for (const node of order) {
    names.set(node, `%${names.size}`);
    const args = node.inputs.map((i) => names.get(i) ?? "?").join(", ");
    const params = Object.keys(node.params ?? {}).length > 0 ? ` ${JSON.stringify(node.params)}` : "";
    lines.push(`${names.get(node)} = ${node.prim}(${args})${params} : ${describe(node)}`);
  }
  lines.push(`return ${outputs.map((o) => names.get(o) ?? "?").join(", ")}`);
  return lines.join("\n");
}
