// PyTorch-style backward: accumulates gradients into `.grad` of every leaf that requires grad.

import { bind } from "../core/bind.js";
import { fromStorage } from "../core/creation.js";
import { noGrad } from "../core/grad-mode.js";
import { formatShape, shapesEqual } from "../core/shape.js";
import { installBackward, leafOwner, realize, type Tensor } from "../core/tensor.js";
import { AutogradError, ShapeError, TracerError } from "../runtime/errors.js";
import { isTracing } from "../core/trace-state.js";
import { backwardPass } from "./reverse.js";

function implicitSeed(output: Tensor): Tensor {
  if (output.numel() !== 1) {
    throw new AutogradError(
      `backward: the output has shape ${formatShape(output.shape)}; a gradient can be created implicitly only for a scalar. ` +
        "Reduce it first (for example .sum()) or pass a gradient of the same shape",
    );
  }
  const data = output.dtype === "float64" ? Float64Array.of(1) : Float32Array.of(1);
  return fromStorage(data, output.shape, output.dtype);
}

/** Runs the backward pass from `output` and realizes every new gradient in one program. */
function backward(output: Tensor, gradient: Tensor | undefined): void {
  if (isTracing()) {
    throw new TracerError(
      "backward: loss.backward() cannot run inside compile, because it fills .grad as a side effect at trace time; " +
        "compute gradients with nb.valueAndGrad and return them from the compiled function",
    );
  }
  if (!output.requiresGrad) {
    throw new AutogradError(
      "backward: the output does not require grad; no leaf with requiresGrad: true contributed to it. " +
        "Outputs of a compiled function are detached too: compute gradients with nb.valueAndGrad inside it",
    );
  }
  if (gradient !== undefined && !shapesEqual(gradient.shape, output.shape)) {
    throw new ShapeError(`backward: gradient shape ${formatShape(gradient.shape)} does not match the output shape ${formatShape(output.shape)}`);
  }
  const seed = gradient ?? implicitSeed(output);

  // Gradients are realized before any .grad changes, so a failure leaves every .grad as it was.
  const updates: [Tensor, Tensor][] = [];
  noGrad(() => {
    const cotangents = backwardPass([output.node], [seed], (n) => n.kind === "leaf" && n.tracked);
    for (const [node, ct] of cotangents) {
      const owner = leafOwner(node);
      if (owner !== undefined) updates.push([owner, owner.grad === null ? ct : bind("add", [owner.grad, ct], {})]);
    }
  });
  realize(...updates.map(([, g]) => g));
  for (const [owner, g] of updates) owner.grad = g;
}

installBackward(backward);
