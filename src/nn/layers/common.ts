// Options shared by the layers: the parameter dtype and the random key for initialisation.

import { zeros } from "../../core/creation.js";
import type { DType } from "../../core/dtype.js";
import type { Tensor } from "../../core/tensor.js";
import * as random from "../../ops/random.js";
import { ValueError } from "../../runtime/errors.js";
import { Parameter } from "../parameter.js";

export interface LayerOptions {
  /** Parameter dtype, float32 by default. */
  readonly dtype?: DType;
  /** Key for the initial values; the global generator (nb.random.seed) when omitted. */
  readonly key?: Tensor;
}

/** `n` independent keys from `key`, or `n` times undefined (the global generator). */
export function splitKey(key: Tensor | undefined, n: number): (Tensor | undefined)[] {
  return key === undefined ? new Array<undefined>(n).fill(undefined) : random.split(key, n);
}

/** Creates a zero-filled parameter, to be initialised in place by nn.init. */
export function emptyParameter(shape: readonly number[], dtype: DType = "float32"): Parameter {
  return new Parameter(zeros(shape, { dtype }));
}

export function checkPositiveInt(op: string, name: string, value: number): void {
  if (!Number.isInteger(value) || value <= 0) throw new ValueError(`${op}: ${name} must be a positive integer, got ${value}`);
}
