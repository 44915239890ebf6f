// The Tensor: a handle on a graph node with a shape, a dtype and, for leaves, a gradient slot.

import { AutogradError, DTypeError, ShapeError, TracerError, ValueError } from "../runtime/errors.js";
import type { Storage } from "../runtime/storage.js";
import { isFloating, type DType } from "./dtype.js";
import { formatTensor, toNested } from "./format.js";
import { Node } from "./node.js";
import { realizeNodes } from "./realize.js";
import { formatShape, sizeOf, shapesEqual, type Shape } from "./shape.js";
import { isTracing } from "./trace-state.js";

/** Runs a backward pass from `tensor`; installed by autograd/ when the package loads. */
export type BackwardImpl = (tensor: Tensor, gradient: Tensor | undefined) => void;

let backwardImpl: BackwardImpl | undefined;

export function installBackward(impl: BackwardImpl): void {
  backwardImpl = impl;
}

/** The tensor whose `.grad` receives the gradient of a leaf node that requires grad. */
const leafOwners = new WeakMap<Node, Tensor>();

export function leafOwner(node: Node): Tensor | undefined {
  return leafOwners.get(node);
}

/**
 * The placement of a tensor on a device mesh: the mesh and the spec of its shards. The type is
 * structural, so the core does not depend on the sharding layer. `nb.shard` stores a NamedSharding.
 */
export interface TensorSharding {
  readonly mesh: { readonly shape: readonly number[]; readonly axisNames: readonly string[] };
  readonly spec: { readonly dims: readonly (readonly string[])[]; readonly partial: Readonly<Record<string, string>>; toString(): string };
  toString(): string;
}

export class Tensor {
  #node: Node;
  /** Accumulated gradient of a leaf that requires grad, filled by `backward()`. */
  grad: Tensor | null = null;
  /**
   * The mesh and spec compiled functions shard this tensor by, or null for a tensor on one device.
   * NOTE: the data stays in host memory between programs; shards are cut when a program runs.
   */
  sharding: TensorSharding | null = null;

  constructor(node: Node) {
    this.#node = node;
    if (node.kind === "leaf" && node.tracked && !leafOwners.has(node)) leafOwners.set(node, this);
  }

  /** The graph node behind this tensor; for use by nabla-ts's own layers. */
  get node(): Node {
    return this.#node;
  }

  get shape(): Shape {
    return this.#node.shape;
  }

  get dtype(): DType {
    return this.#node.dtype;
  }

  get ndim(): number {
    return this.#node.shape.length;
  }

  numel(): number {
    return sizeOf(this.#node.shape);
  }

  /** True for tensors created directly by the user (or by `detach`), false for results of ops. */
  get isLeaf(): boolean {
    return this.#node.kind !== "op" || !this.#node.tracked;
  }

  get requiresGrad(): boolean {
    return this.#node.tracked;
  }

  set requiresGrad(value: boolean) {
    if (value === this.#node.tracked) return;
    if (this.#node.kind === "op") {
      throw new AutogradError("requiresGrad can only be changed on leaf tensors; use .detach() to get a leaf from an op result");
    }
    if (value && !isFloating(this.dtype)) {
      throw new DTypeError(`requiresGrad: only floating-point tensors can require gradients, this one is ${this.dtype}; cast it first`);
    }
    this.realize();
    this.#setLeaf(this.#node.buffer as Storage, value);
  }

  #setLeaf(buffer: Storage, tracked: boolean): void {
    this.#node = Node.leaf(this.#node.aval, buffer, tracked);
    if (tracked) leafOwners.set(this.#node, this);
  }

  /** Computes this tensor's pending graph; returns `this`. */
  realize(): this {
    realizeNodes([this.#node]);
    return this;
  }

  /** Returns the data as a new typed array of this tensor's dtype (bool as a Uint8Array of 0 and 1). */
  toArray(): Storage {
    this.realize();
    return (this.#node.buffer as Storage).slice();
  }

  /** Returns the single element of a one-element tensor as a number (bool as 1 or 0). */
  item(): number {
    if (this.numel() !== 1) {
      throw new ValueError(`item: the tensor has shape ${formatShape(this.shape)} with ${this.numel()} elements; item() needs exactly one`);
    }
    this.realize();
    return (this.#node.buffer as Storage)[0];
  }

  /** Returns the data as nested JavaScript arrays (a number or boolean for a scalar). */
  tolist(): unknown {
    this.realize();
    return toNested(this.#node.buffer as Storage, this.shape, this.dtype);
  }

  toString(): string {
    this.realize();
    return formatTensor(this.#node.buffer as Storage, this.shape, this.dtype);
  }

  /** Formats the tensor for `console.log` in Node: the values, plus `requiresGrad` when it is set. */
  [Symbol.for("nodejs.util.inspect.custom")](): string {
    const text = this.toString();
    return this.requiresGrad ? `${text.slice(0, -1)}, requiresGrad=true)` : text;
  }

  /** Accumulates d(this)/d(leaf) into `.grad` of every leaf that requires grad. */
  backward(gradient?: Tensor): void {
    if (backwardImpl === undefined) throw new AutogradError("backward is not installed; import nabla-ts through its index");
    backwardImpl(this, gradient);
  }

  /** Returns a new leaf with the same data, cut off from the graph. */
  detach(): Tensor {
    this.realize();
    return new Tensor(Node.leaf(this.#node.aval, this.#node.buffer as Storage));
  }

  /**
   * Replaces this tensor's value in place, keeping `requiresGrad`; the new value is realized first.
   * Optimizers update parameters this way, so every holder of the handle reads the new value.
   */
  assign(value: Tensor): this {
    if (isTracing()) {
      throw new TracerError(
        "assign: tensors cannot be updated in place inside compile, because the update would happen once at trace time; " +
          "return the new values from the compiled function instead (for example with adamwUpdate)",
      );
    }
    if (!shapesEqual(value.shape, this.shape) || value.dtype !== this.dtype) {
      throw new ShapeError(
        `assign: the new value has shape ${formatShape(value.shape)} and dtype ${value.dtype}, ` +
          `but the tensor has shape ${formatShape(this.shape)} and dtype ${this.dtype}; cast or reshape the value first`,
      );
    }
    value.realize();
    this.#setLeaf(value.node.buffer as Storage, this.#node.tracked && this.#node.kind !== "op");
    return this;
  }
}

/** Wraps a node in a Tensor handle; the handle owns no gradient. */
export function tensorOf(node: Node): Tensor {
  return new Tensor(node);
}

/** Realizes several tensors in one pass, sharing the work of their common subgraphs. */
export function realize(...tensors: Tensor[]): void {
  realizeNodes(tensors.map((t) => t.node));
}
