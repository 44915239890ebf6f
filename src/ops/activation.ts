// Activation functions composed from primitives.

import type { Tensor } from "../core/tensor.js";
import { ValueError } from "../runtime/errors.js";
import { add, erf, mul, sigmoid, tanh } from "./elementwise.js";

export interface GeluOptions {
  /** "none" for the exact form x * Phi(x), "tanh" for the tanh approximation; as PyTorch's `approximate`. */
  readonly approximate?: "none" | "tanh";
}

const sqrtTwoOverPi = Math.sqrt(2 / Math.PI);

/** GELU: exact x/2 (1 + erf(x / sqrt 2)), or x/2 (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))). */
export function gelu(x: Tensor, options: GeluOptions = {}): Tensor {
  const form = options.approximate ?? "none";
  if (form === "none") return mul(mul(x, 0.5), add(erf(mul(x, Math.SQRT1_2)), 1));
  if (form === "tanh") {
    const inner = mul(add(x, mul(mul(mul(x, x), x), 0.044715)), sqrtTwoOverPi);
    return mul(mul(x, 0.5), add(tanh(inner), 1));
  }
  throw new ValueError(`gelu: approximate must be "none" or "tanh", got ${JSON.stringify(form)}`);
}

/** SiLU (swish): x * sigmoid(x). */
export function silu(x: Tensor): Tensor {
  return mul(x, sigmoid(x));
}
