// Reference batched matrix product [B, M, K] x [B, K, N] -> [B, M, N] with float64 accumulation.

import { allocate, type Storage, type StorageDType } from "../storage.js";

export function matmul(a: Storage, b: Storage, batch: number, m: number, k: number, n: number, dtype: StorageDType): Storage {
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
