// The per-tensor update rules of Adam, AdamW and SGD, shared by the functional and stateful optimizers.

import type { Tensor } from "../../core/tensor.js";
import { add, cast, div, mul, sqrt, sub, where } from "../../ops/elementwise.js";
import type { Operand } from "../../ops/lift.js";

export interface AdamHyper {
  /** lr / (1 - beta1^t), the step size after bias correction. */
  readonly stepSize: Operand;
  /** sqrt(1 - beta2^t). */
  readonly biasCorrection2Sqrt: Operand;
  /** lr * weightDecay for decoupled (AdamW) decay; the factor is 1 - decay. */
  readonly decoupledDecay: Operand;
  /** Weight decay added to the gradient (Adam's L2 penalty); 0 for AdamW. */
  readonly l2: number;
  readonly beta1: number;
  readonly beta2: number;
  readonly eps: number;
}

/** Scalar hyperparameters that are tensors are cast to the parameter's dtype, so float32 parameters stay float32. */
function like(value: Operand, p: Tensor): Operand {
  return typeof value === "number" ? value : cast(value as Tensor, p.dtype);
}

/**
 * One Adam step, in PyTorch's order: p <- p * (1 - lr wd); m <- b1 m + (1 - b1) g;
 * v <- b2 v + (1 - b2) g^2; p <- p - stepSize * m / (sqrt(v) / sqrt(1 - b2^t) + eps).
 */
export function adamRule(p: Tensor, g: Tensor, m: Tensor, v: Tensor, h: AdamHyper): [Tensor, Tensor, Tensor] {
  const grad = h.l2 === 0 ? g : add(g, mul(p, h.l2));
  const m1 = add(mul(m, h.beta1), mul(grad, 1 - h.beta1));
  const v1 = add(mul(v, h.beta2), mul(mul(grad, grad), 1 - h.beta2));
  const denom = add(div(sqrt(v1), like(h.biasCorrection2Sqrt, p)), h.eps);
  const decayed = mul(p, sub(1, like(h.decoupledDecay, p)));
  const p1 = sub(decayed, mul(like(h.stepSize, p), div(m1, denom)));
  return [p1, m1, v1];
}

export interface SgdHyper {
  readonly lr: Operand;
  readonly momentum: number;
  readonly dampening: number;
  readonly nesterov: boolean;
  readonly weightDecay: number;
  /** True (or a bool tensor) on the first step, when the momentum buffer starts as the gradient. */
  readonly first: boolean | Tensor;
}

/** Applies one SGD step as torch.optim.SGD: d = g + wd p; b <- mu b + (1 - dampening) d (b = d at first); p <- p - lr (nesterov ? d + mu b : b). */
export function sgdRule(p: Tensor, g: Tensor, buffer: Tensor, h: SgdHyper): [Tensor, Tensor] {
  const d = h.weightDecay === 0 ? g : add(g, mul(p, h.weightDecay));
  if (h.momentum === 0) return [sub(p, mul(d, like(h.lr, p))), buffer];
  const running = add(mul(buffer, h.momentum), mul(d, 1 - h.dampening));
  let b = running;
  if (h.first === true) b = d;
  else if (h.first !== false) b = where(h.first, d, running);
  const direction = h.nesterov ? add(d, mul(b, h.momentum)) : b;
  return [sub(p, mul(direction, like(h.lr, p))), b];
}
