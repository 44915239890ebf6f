// Parameter initialisers like torch.nn.init: each replaces the tensor's value in place and returns it.

import { noGrad } from "../core/grad-mode.js";
import { full } from "../core/creation.js";
import { formatShape, sizeOf } from "../core/shape.js";
import type { Tensor } from "../core/tensor.js";
import * as random from "../ops/random.js";
import { ShapeError, ValueError } from "../runtime/errors.js";

export interface InitOptions {
  /** Random key; the global generator (nb.random.seed) when omitted. */
  readonly key?: Tensor;
}

export type Nonlinearity = "linear" | "identity" | "sigmoid" | "tanh" | "relu" | "leakyRelu" | "selu";

/** Returns the recommended gain for a nonlinearity, as torch.nn.init.calculate_gain; `param` is the leaky ReLU slope. */
export function calculateGain(nonlinearity: Nonlinearity, param?: number): number {
  switch (nonlinearity) {
    case "linear":
    case "identity":
    case "sigmoid":
      return 1;
    case "tanh":
      return 5 / 3;
    case "relu":
      return Math.SQRT2;
    case "leakyRelu": {
      const slope = param ?? 0.01;
      return Math.sqrt(2 / (1 + slope * slope));
    }
    case "selu":
      return 3 / 4;
    default:
      throw new ValueError(`calculateGain: unknown nonlinearity ${JSON.stringify(nonlinearity)}`);
  }
}

/** Fan-in and fan-out of a weight of shape [out, in, ...receptive field], as PyTorch computes them. */
export function fans(shape: readonly number[], op = "init"): { fanIn: number; fanOut: number } {
  if (shape.length < 2) {
    throw new ShapeError(`${op}: fan-in and fan-out need a tensor with at least 2 dimensions, got shape ${formatShape(shape)}`);
  }
  const receptive = sizeOf(shape.slice(2));
  return { fanIn: shape[1] * receptive, fanOut: shape[0] * receptive };
}

function replace(tensor: Tensor, value: () => Tensor): Tensor {
  return noGrad(() => tensor.assign(value()));
}

export function uniform(tensor: Tensor, options: InitOptions & { low?: number; high?: number } = {}): Tensor {
  const { low = 0, high = 1, key } = options;
  return replace(tensor, () => random.uniform(tensor.shape, { low, high, key, dtype: tensor.dtype }));
}

export function normal(tensor: Tensor, options: InitOptions & { mean?: number; std?: number } = {}): Tensor {
  const { mean = 0, std = 1, key } = options;
  return replace(tensor, () => random.normal(tensor.shape, { mean, std, key, dtype: tensor.dtype }));
}

export function constant(tensor: Tensor, value: number): Tensor {
  return replace(tensor, () => full(tensor.shape, value, { dtype: tensor.dtype }));
}

export const zeros = (tensor: Tensor): Tensor => constant(tensor, 0);
export const ones = (tensor: Tensor): Tensor => constant(tensor, 1);

/** U(-b, b) with b = gain * sqrt(6 / (fanIn + fanOut)) (Glorot and Bengio, 2010). */
export function xavierUniform(tensor: Tensor, options: InitOptions & { gain?: number } = {}): Tensor {
  const { fanIn, fanOut } = fans(tensor.shape, "xavierUniform");
  const bound = (options.gain ?? 1) * Math.sqrt(6 / (fanIn + fanOut));
  return uniform(tensor, { low: -bound, high: bound, key: options.key });
}

/** N(0, std^2) with std = gain * sqrt(2 / (fanIn + fanOut)). */
export function xavierNormal(tensor: Tensor, options: InitOptions & { gain?: number } = {}): Tensor {
  const { fanIn, fanOut } = fans(tensor.shape, "xavierNormal");
  const std = (options.gain ?? 1) * Math.sqrt(2 / (fanIn + fanOut));
  return normal(tensor, { std, key: options.key });
}

export interface KaimingOptions extends InitOptions {
  /** Negative slope of the leaky ReLU that follows (0 by default). */
  readonly a?: number;
  /** "fanIn" keeps the forward variance, "fanOut" the backward variance. */
  readonly mode?: "fanIn" | "fanOut";
  readonly nonlinearity?: Nonlinearity;
}

/** std = gain / sqrt(fan) (He et al., 2015), with gain from the nonlinearity; 0 for an empty fan. */
function kaimingStd(tensor: Tensor, options: KaimingOptions, op: string): number {
  const { fanIn, fanOut } = fans(tensor.shape, op);
  const fan = options.mode === "fanOut" ? fanOut : fanIn;
  const gain = calculateGain(options.nonlinearity ?? "leakyRelu", options.a ?? 0);
  return fan === 0 ? 0 : gain / Math.sqrt(fan);
}

export function kaimingUniform(tensor: Tensor, options: KaimingOptions = {}): Tensor {
  const bound = Math.sqrt(3) * kaimingStd(tensor, options, "kaimingUniform");
  return uniform(tensor, { low: -bound, high: bound, key: options.key });
}

export function kaimingNormal(tensor: Tensor, options: KaimingOptions = {}): Tensor {
  return normal(tensor, { std: kaimingStd(tensor, options, "kaimingNormal"), key: options.key });
}
