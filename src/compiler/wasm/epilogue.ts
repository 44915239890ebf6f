// Matmul epilogue fusion. A float32 matmul whose only use is `add` of a bias vector along the last axis
// runs as one matmul kernel, which adds the bias to each register tile before storing it. When relu,
// tanh or sigmoid is the only use of that sum, the kernel applies it too.

import type { Node } from "../../core/node.js";
import { sizeOf } from "../../core/shape.js";
import type { Activation } from "../../runtime/wasm/matmul/micro.js";
import type { ProgramBuilder, Value } from "./builder.js";
import { planMatmul } from "./matmul-step.js";

interface EpilogueChain {
  readonly matmul: Node;
  readonly add: Node;
  /** The add's other operand: a broadcast of a vector along the last axis. */
  readonly bias: Node;
  readonly activation: Node | null;
}

/** The lowering loop's per-node steps, which the fusion calls for the nodes it does not fuse. */
export interface NodeLowering {
  /** Lowers a node on its own and records its value. */
  lowerPlain(node: Node): void;
  /** Records a node's value as if the node had been lowered on its own. */
  finish(node: Node, value: Value): void;
}

// The exact erf GELU the kernel also implements is a composite of several primitives, so it is not matched.
const activations: Partial<Record<string, Activation>> = { relu: "relu", tanh: "tanh", sigmoid: "sigmoid" };

export class EpilogueFusion {
  readonly #chains = new Map<Node, EpilogueChain>();
  /** The bias of each chain whose add has been reached, or null when it was not a vector and the chain runs unfused. */
  readonly #biases = new Map<EpilogueChain, (Value & { kind: "buffer" }) | null>();

  /**
   * Finds the chains in `order`. `isPrivate(node)` must be true only when the node's single use is by
   * another node of the order and nothing outside the realization reads it.
   */
  constructor(order: readonly Node[], isPrivate: (node: Node) => boolean) {
    const consumers = new Map<Node, Node[]>();
    for (const node of order) for (const input of node.inputs) consumers.set(input, [...(consumers.get(input) ?? []), node]);
    const soleConsumer = (node: Node): Node | undefined => (isPrivate(node) ? consumers.get(node)?.[0] : undefined);

    for (const matmul of order) {
      if (matmul.prim !== "matmul" || matmul.dtype !== "float32") continue;
      if (matmul.inputs.some((i) => sizeOf(i.shape) === 0) || sizeOf(matmul.shape) === 0) continue;
      const add = soleConsumer(matmul);
      if (add?.prim !== "add") continue;
      const bias = add.inputs[0] === matmul ? add.inputs[1] : add.inputs[0];
      if (!isBroadcastVector(bias)) continue;
      const next = soleConsumer(add);
      const activation = next !== undefined && activations[next.prim ?? ""] !== undefined ? next : null;
      const chain = { matmul, add, bias, activation };
      for (const member of [matmul, add, activation]) if (member !== null) this.#chains.set(member, chain);
    }
  }

  covers(node: Node): boolean {
    return this.#chains.has(node);
  }

  /** Lowers a node of a chain: the matmul waits, and the chain's last node emits the fused kernel. */
  lower(builder: ProgramBuilder, node: Node, steps: NodeLowering): void {
    const chain = this.#chains.get(node) as EpilogueChain;
    if (node === chain.matmul) return;

    if (node === chain.add) {
      const bias = vectorView(builder.valueOf(chain.bias), chain.bias.shape);
      this.#biases.set(chain, bias);
      if (bias === null) {
        steps.lowerPlain(chain.matmul);
        steps.lowerPlain(node);
      } else if (chain.activation === null) {
        steps.finish(node, emitFused(builder, chain, bias, "none"));
      }
      return;
    }

    const bias = this.#biases.get(chain) ?? null;
    if (bias === null) steps.lowerPlain(node);
    else steps.finish(node, emitFused(builder, chain, bias, activations[node.prim ?? ""] ?? "none"));
  }
}

function emitFused(builder: ProgramBuilder, chain: EpilogueChain, bias: Value & { kind: "buffer" }, activation: Activation): Value {
  const inputs = chain.matmul.inputs.map((i) => builder.valueOf(i));
  return planMatmul(builder, chain.matmul, inputs, { bias, activation });
}

/** Checks that the node is a broadcastTo whose operand varies only along the last axis, which it keeps. */
function isBroadcastVector(node: Node): boolean {
  if (node.prim !== "broadcastTo" || node.dtype !== "float32") return false;
  const source = node.inputs[0].shape;
  const rank = source.length;
  return rank === node.shape.length && source[rank - 1] === node.shape[rank - 1] && source.slice(0, -1).every((d) => d === 1);
}

/** Returns the value if it is a buffer read with stride 0 on all but the last axis and stride 1 on it, else null. */
function vectorView(value: Value, shape: readonly number[]): (Value & { kind: "buffer" }) | null {
  if (value.kind !== "buffer") return null;
  const last = shape.length - 1;
  const isVector = value.view.strides.every((s, d) => (d === last ? s === 1 || shape[d] === 1 : s === 0 || shape[d] === 1));
  return isVector ? value : null;
}
