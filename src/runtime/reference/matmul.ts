// Reference batched matrix product [B, M, K] x [B, K, N] -> [B, M, N] with float64 accumulation, or
// int32 accumulation that wraps around modulo 2^32 for int32 results.

import { allocate, type Storage, type StorageDType } from "../storage.js";

export function matmul(a: Storage, b: Storage, batch: number, m: number, k: number, n: number, dtype: StorageDType): Storage {
  if (dtype === "int32") return matmulInt32(a, b, batch, m, k, n);
  const out = allocate(dtype, batch * m * n);
  const row = new Float64Array(n);

  for (let p = 0; p < batch; p++) {
    const aBase = p * m * k;
    const bBase = p * k * n;
    for (let i = 0; i < m; i++) {
      row.fill(0);
      for (let q = 0; q < k; q++) {
        const aiq = a[aBase + i * k + q];
        const bRow = bBase + q * n;
        for (let j = 0; j < n; j++) row[j] += aiq * b[bRow + j];
      }
      out.set(row, p * m * n + i * n);
    }
  }
  return out;
}

/** Multiplies in int32 arithmetic, so that large products wrap instead of rounding in float64 first. */
function matmulInt32(a: Storage, b: Storage, batch: number, m: number, k: number, n: number): Int32Array {
  const out = new Int32Array(batch * m * n);
  for (let p = 0; p < batch; p++) {
    for (let i = 0; i < m; i++) {
      const outRow = p * m * n + i * n;
      for (let q = 0; q < k; q++) {
        const aiq = a[p * m * k + i * k + q];
        const bRow = p * k * n + q * n;
        for (let j = 0; j < n; j++) out[outRow + j] = (out[outRow + j] + Math.imul(aiq, b[bRow + j])) | 0;
      }
    }
  }
  return out;
}
