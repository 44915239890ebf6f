// JAX-style reverse-mode transforms over pytrees: vjp, grad and valueAndGrad.

import { bindTracked } from "../core/bind.js";
import { fromStorage, zeros } from "../core/creation.js";
import { isFloating } from "../core/dtype.js";
import type { Node } from "../core/node.js";
import { treeFlatten, treeUnflatten } from "../core/pytree.js";
import { formatShape, shapesEqual } from "../core/shape.js";
import { Tensor } from "../core/tensor.js";
import { AutogradError, IndexError, ShapeError } from "../runtime/errors.js";
import { backwardPass } from "./reverse.js";

/** Marks every float tensor leaf of `tree` as a differentiation source; returns the marked tree and the markers. */
function markSources(tree: unknown): { marked: unknown; markers: Tensor[]; treedef: ReturnType<typeof treeFlatten>["treedef"] } {
  const { leaves, treedef } = treeFlatten(tree);
  const markers = leaves.map((leaf) => (isFloating(leaf.dtype) ? bindTracked("identity", [leaf], {}) : leaf));
  return { marked: treeUnflatten(treedef, markers), markers, treedef };
}

/** Cotangents of the markers, zeros where no output depends on one. */
function collect(markers: readonly Tensor[], cotangents: Map<Node, Tensor>): Tensor[] {
  return markers.map((m) => cotangents.get(m.node) ?? zeros(m.shape, { dtype: m.dtype }));
}

/**
 * Evaluates `fn(...primals)` and returns `[outputs, vjpFn]`, where `vjpFn(cotangents)` maps cotangents
 * shaped like the outputs to cotangents shaped like the primals (an array, one per primal).
 */
export function vjp<Out>(fn: (...args: never[]) => Out, ...primals: unknown[]): [Out, (cotangents: Out) => unknown[]] {
  const { marked, markers, treedef } = markSources(primals);
  const out = fn(...(marked as never[]));
  const outTree = treeFlatten(out);
  const sources = new Set(markers.map((m) => m.node));

  const pull = (cotangents: Out): unknown[] => {
    const seeds = treeFlatten(cotangents).leaves;
    if (seeds.length !== outTree.leaves.length) {
      throw new ShapeError(`vjp: ${seeds.length} cotangent tensors for ${outTree.leaves.length} outputs; give one per output`);
    }
    seeds.forEach((s, i) => {
      if (!shapesEqual(s.shape, outTree.leaves[i].shape)) {
        throw new ShapeError(`vjp: cotangent ${i} has shape ${formatShape(s.shape)} but the output has shape ${formatShape(outTree.leaves[i].shape)}`);
      }
    });
    const cts = backwardPass(outTree.leaves.map((t) => t.node), seeds, (n) => sources.has(n));
    return treeUnflatten(treedef, collect(markers, cts)) as unknown[];
  };
  return [out, pull];
}

export interface GradOptions {
  /** Positions of the arguments to differentiate: one index (the result is that argument's gradient) or a list (a list of gradients). */
  readonly argnums?: number | readonly number[];
  /** `fn` returns `[loss, aux]`; aux is passed through undifferentiated. */
  readonly hasAux?: boolean;
}

function scalarLoss(value: unknown, op: string): Tensor {
  if (!(value instanceof Tensor)) {
    throw new AutogradError(`${op}: the function must return a scalar tensor${op.includes("aux") ? " as the first element of [loss, aux]" : ""}, got ${typeof value}`);
  }
  if (value.numel() !== 1) {
    throw new AutogradError(`${op}: the function must return a scalar, got shape ${formatShape(value.shape)}; reduce it (for example with sum) or use vjp for non-scalar outputs`);
  }
  if (!isFloating(value.dtype)) {
    throw new AutogradError(`${op}: the function returned a ${value.dtype} scalar, which has no gradient; return a float32 or float64 value`);
  }
  return value;
}

function liftNumber(value: unknown): unknown {
  return typeof value === "number" ? fromStorage(Float32Array.of(value), [], "float32") : value;
}

/**
 * `valueAndGrad(fn, {argnums, hasAux})(...args)` returns `[value, grads]` (with `hasAux`,
 * `[[value, aux], grads]`), like `jax.value_and_grad`.
 */
export function valueAndGrad(fn: (...args: never[]) => unknown, options: GradOptions = {}): (...args: unknown[]) => [unknown, unknown] {
  return valueAndGradNamed(fn, options, "valueAndGrad");
}

function valueAndGradNamed(fn: (...args: never[]) => unknown, options: GradOptions, name: string): (...args: unknown[]) => [unknown, unknown] {
  const { argnums = 0, hasAux = false } = options;
  const positions = typeof argnums === "number" ? [argnums] : [...argnums];
  const op = hasAux ? `${name} with hasAux` : name;

  return (...args: unknown[]) => {
    for (const p of positions) {
      if (!Number.isInteger(p) || p < 0 || p >= args.length) {
        throw new IndexError(`${op}: argnums ${p} is out of range for a call with ${args.length} arguments`);
      }
    }
    const { marked, markers, treedef } = markSources(positions.map((p) => liftNumber(args[p])));
    const callArgs = [...args];
    positions.forEach((p, i) => (callArgs[p] = (marked as unknown[])[i]));

    const result = fn(...(callArgs as never[]));
    if (hasAux && (!Array.isArray(result) || result.length !== 2)) {
      throw new AutogradError(`${op}: the function must return [loss, aux], got ${Array.isArray(result) ? `an array of length ${result.length}` : typeof result}`);
    }
    const loss = scalarLoss(hasAux ? (result as unknown[])[0] : result, op);
    const seed = fromStorage(loss.dtype === "float64" ? Float64Array.of(1) : Float32Array.of(1), loss.shape, loss.dtype);
    const sources = new Set(markers.map((m) => m.node));
    const cts = backwardPass([loss.node], [seed], (n) => sources.has(n));

    const grads = treeUnflatten(treedef, collect(markers, cts)) as unknown[];
    return [result, typeof argnums === "number" ? grads[0] : grads];
  };
}

/** `grad(fn, options)(...args)`: the gradient of a scalar function, like `jax.grad`; with `hasAux`, `[grads, aux]`. */
export function grad(fn: (...args: never[]) => unknown, options: GradOptions = {}): (...args: unknown[]) => unknown {
  const inner = valueAndGradNamed(fn, options, "grad");
  return (...args: unknown[]) => {
    const [value, grads] = inner(...args);
    return options.hasAux ? [grads, (value as unknown[])[1]] : grads;
  };
}
