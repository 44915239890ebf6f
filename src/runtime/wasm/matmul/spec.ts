// The shape and options of one batched float32 matmul, shared by the kernel and its driver code.

import type { Activation } from "./micro.js";

/** C[b] = op(A[b]) . op(B[b]) for b < batch, with A [M, K] and B [K, N] before transposition. */
export interface MatmulSpec {
  readonly batch: number;
  readonly m: number;
  readonly k: number;
  readonly n: number;
  /** A is stored [K, M] (so the product uses A^T of the stored matrix). */
  readonly transA?: boolean;
  /** B is stored [N, K]. */
  readonly transB?: boolean;
  /** Elements between consecutive batch matrices of A and B; 0 broadcasts one matrix. Defaults to dense. */
  readonly batchStrideA?: number;
  readonly batchStrideB?: number;
  /** Adds bias[N] to every row, then applies the activation. */
  readonly bias?: boolean;
  readonly activation?: Activation;
}
