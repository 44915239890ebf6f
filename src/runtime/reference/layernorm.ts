// Reference layer norm over the last axis of a [rows, cols] tensor, forward and backward, in float64.

import { allocate, type Storage, type StorageDType } from "../storage.js";

interface RowStats {
  readonly mean: number;
  readonly rstd: number;
}

/** Mean and 1 / sqrt(var + eps) of row `row`, with the biased variance taken as a second pass over x - mean. */
function rowStats(x: Storage, row: number, cols: number, eps: number): RowStats {
  const start = row * cols;
  let sum = 0;
  for (let j = 0; j < cols; j++) sum += x[start + j];
  const mean = sum / cols;
  let squares = 0;
  for (let j = 0; j < cols; j++) squares += (x[start + j] - mean) ** 2;
  return { mean, rstd: 1 / Math.sqrt(squares / cols + eps) };
}

/** y = (x - mean) * rstd * weight + bias for each row. */
export function layerNormRows(x: Storage, weight: Storage, bias: Storage, rows: number, cols: number, eps: number, dtype: StorageDType): Storage {
  const out = allocate(dtype, rows * cols);
  for (let row = 0; row < rows; row++) {
    const { mean, rstd } = rowStats(x, row, cols, eps);
    for (let j = 0; j < cols; j++) {
      const i = row * cols + j;
      out[i] = (x[i] - mean) * rstd * weight[j] + bias[j];
    }
  }
  return out;
}

/**
 * The gradients of layer norm packed as [rows + 2, cols]: dx by rows, then dweight, then dbias. With
 * g = dy * weight and xhat = (x - mean) * rstd, dx = rstd * (g - mean(g) - xhat * mean(g * xhat)),
 * dweight = sum over rows of dy * xhat and dbias = sum over rows of dy.
 */
export function layerNormGradRows(dy: Storage, x: Storage, weight: Storage, rows: number, cols: number, eps: number, dtype: StorageDType): Storage {
  const out = allocate(dtype, (rows + 2) * cols);
  const dweight = new Float64Array(cols);
  const dbias = new Float64Array(cols);
  const xhat = new Float64Array(cols);
  for (let row = 0; row < rows; row++) {
    const { mean, rstd } = rowStats(x, row, cols, eps);
    const start = row * cols;
    let sumG = 0;
    let sumGX = 0;
    for (let j = 0; j < cols; j++) {
      xhat[j] = (x[start + j] - mean) * rstd;
      const g = dy[start + j] * weight[j];
      sumG += g;
      sumGX += g * xhat[j];
      dweight[j] += dy[start + j] * xhat[j];
      dbias[j] += dy[start + j];
    }
    for (let j = 0; j < cols; j++) {
      const g = dy[start + j] * weight[j];
      out[start + j] = rstd * (g - sumG / cols - (xhat[j] * sumGX) / cols);
    }
  }
  out.set(dweight, rows * cols);
  out.set(dbias, (rows + 1) * cols);
  return out;
}
