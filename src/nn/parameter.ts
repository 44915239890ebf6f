// Parameter: a trainable leaf tensor whose handle stays the same when an optimizer updates it.

import { isFloating } from "../core/dtype.js";
import { Node } from "../core/node.js";
import { Tensor } from "../core/tensor.js";
import type { Storage } from "../runtime/storage.js";
import { DTypeError } from "../runtime/errors.js";

/**
 * A leaf tensor that a Module registers as trainable. Optimizers replace its value with
 * `Tensor.assign`, so every holder of the handle (the model, a closure, a list) sees the update.
 */
export class Parameter extends Tensor {
  /** Wraps the value of `data` (realized first) in a new leaf; `requiresGrad` is true by default. */
  constructor(data: Tensor, requiresGrad = true) {
    if (requiresGrad && !isFloating(data.dtype)) {
      throw new DTypeError(`Parameter: only floating-point tensors can require gradients, got ${data.dtype}; cast the data or pass requiresGrad = false`);
    }
    data.realize();
    super(Node.leaf(data.node.aval, data.node.buffer as Storage, requiresGrad));
  }
}
