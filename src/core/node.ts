// The graph IR: a node is a leaf (a realized constant), a placeholder (an abstract input while tracing)
// or the application of a primitive to input nodes.

import type { Storage } from "../runtime/storage.js";
import type { DType } from "./dtype.js";
import type { ParamsByPrimitive, PrimitiveName } from "./primitive-names.js";
import type { Shape } from "./shape.js";

/** Abstract value: what is known of a tensor without its data. */
export interface Aval {
  readonly shape: Shape;
  readonly dtype: DType;
  /**
   * Weakly typed, like a JavaScript number: in promotion it adapts to the other operand's dtype
   * instead of widening it. Compile traces number arguments as weak scalars.
   */
  readonly weak?: boolean;
}

export type NodeKind = "leaf" | "placeholder" | "op";

let nextId = 0;

export class Node {
  readonly id = nextId++;
  /** Inputs of an op node; emptied after realization when no gradient can flow through the node. */
  inputs: readonly Node[];
  /** The node's data once realized; never mutated after it is set. */
  buffer: Storage | undefined;
  /**
   * Op nodes created with this node as an input, counted at creation and never decremented. When it
   * exceeds the uses inside one realization, something outside may still need the value, so a
   * backend keeps it rather than fusing it away.
   */
  consumers = 0;

  private constructor(
    readonly kind: NodeKind,
    readonly aval: Aval,
    readonly prim: PrimitiveName | null,
    readonly params: ParamsByPrimitive[PrimitiveName] | null,
    inputs: readonly Node[],
    buffer: Storage | undefined,
    /** True when a gradient may flow to this node: it is a differentiated input or depends on one. */
    readonly tracked: boolean,
  ) {
    this.inputs = inputs;
    this.buffer = buffer;
  }

  static leaf(aval: Aval, buffer: Storage, tracked = false): Node {
    return new Node("leaf", aval, null, null, [], buffer, tracked);
  }

  static placeholder(aval: Aval, tracked = false): Node {
    return new Node("placeholder", aval, null, null, [], undefined, tracked);
  }

  static op<K extends PrimitiveName>(prim: K, params: ParamsByPrimitive[K], inputs: readonly Node[], aval: Aval, tracked: boolean): Node {
    for (const input of inputs) input.consumers++;
    return new Node("op", aval, prim, params, inputs, undefined, tracked);
  }

  get shape(): Shape {
    return this.aval.shape;
  }

  get dtype(): DType {
    return this.aval.dtype;
  }

  get realized(): boolean {
    return this.buffer !== undefined;
  }
}
