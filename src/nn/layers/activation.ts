// Dropout and activation modules.

import type { Tensor } from "../../core/tensor.js";
import { gelu, type GeluOptions } from "../../ops/activation.js";
import { relu, tanh } from "../../ops/elementwise.js";
import { ValueError } from "../../runtime/errors.js";
import { dropout } from "../functional/layers.js";
import { Module } from "../module.js";

/** Zeroes elements with probability p and scales the rest by 1 / (1 - p) in training mode; the identity in eval mode. */
export class Dropout extends Module {
  readonly p: number;

  constructor(p = 0.5) {
    super();
    if (!(p >= 0 && p <= 1)) throw new ValueError(`Dropout: probability p must be in [0, 1], got ${p}`);
    this.p = p;
  }

  override forward(x: Tensor): Tensor {
    return dropout(x, this.p, { training: this.training });
  }
}

export class ReLU extends Module {
  override forward(x: Tensor): Tensor {
    return relu(x);
  }
}

export class GELU extends Module {
  /** "none" (exact, with erf) or "tanh", as PyTorch's `approximate`. */
  readonly approximate: "none" | "tanh";

  constructor(options: GeluOptions = {}) {
    super();
    this.approximate = options.approximate ?? "none";
  }

  override forward(x: Tensor): Tensor {
    return gelu(x, { approximate: this.approximate });
  }
}

export class Tanh extends Module {
  override forward(x: Tensor): Tensor {
    return tanh(x);
  }
}
