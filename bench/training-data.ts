// Inputs shared by every implementation in bench/training.ts: one fixed MLP batch and initial weights,
// drawn from a seeded generator so that all implementations start from the same numbers.

/** Learning rate of the plain SGD step in the MLP benchmark. */
export const mlpLearningRate = 0.05;

/** One batch and the initial weights of a 784-256-10 MLP, row-major, weights as [in, out]. */
export interface MlpData {
  /** [inputs, hidden, classes] */
  readonly sizes: readonly [number, number, number];
  readonly batch: number;
  /** [batch, inputs] */
  readonly x: Float32Array;
  /** Class index per row. */
  readonly labels: Int32Array;
  /** [batch, classes] */
  readonly yOneHot: Float32Array;
  readonly w1: Float32Array;
  readonly b1: Float32Array;
  readonly w2: Float32Array;
  readonly b2: Float32Array;
}

/** Uniform draws in [low, high) from a 32-bit linear congruential generator. */
function uniform(size: number, seed: number, low: number, high: number): Float32Array {
  const out = new Float32Array(size);
  let state = seed >>> 0;
  for (let i = 0; i < size; i++) {
    state = (state * 1664525 + 1013904223) >>> 0;
    out[i] = low + ((high - low) * state) / 2 ** 32;
  }
  return out;
}

/** Builds the batch and the weights. Weights follow PyTorch's Linear default, U(-1/sqrt(in), 1/sqrt(in)). */
export function makeMlpData(batch = 128, inputs = 784, hidden = 256, classes = 10): MlpData {
  const labels = Int32Array.from({ length: batch }, (_, i) => (i * 7 + 3) % classes);
  const yOneHot = new Float32Array(batch * classes);
  labels.forEach((label, row) => (yOneHot[row * classes + label] = 1));
  const bound1 = 1 / Math.sqrt(inputs);
  const bound2 = 1 / Math.sqrt(hidden);
  return {
    sizes: [inputs, hidden, classes],
    batch,
    x: uniform(batch * inputs, 1, 0, 1),
    labels,
    yOneHot,
    w1: uniform(inputs * hidden, 2, -bound1, bound1),
    b1: uniform(hidden, 3, -bound1, bound1),
    w2: uniform(hidden * classes, 4, -bound2, bound2),
    b2: uniform(classes, 5, -bound2, bound2),
  };
}

/** Transposes a row-major [rows, cols] matrix, for layouts that store Linear weights as [out, in]. */
export function transposed(values: Float32Array, rows: number, cols: number): Float32Array {
  const out = new Float32Array(values.length);
  for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) out[c * rows + r] = values[r * cols + c];
  return out;
}
