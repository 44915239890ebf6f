// Peer implementations for bench/kernels.ts: TensorFlow.js on its wasm backend (XNNPACK) and jax-js on
// its wasm backend with jit. Each loader returns null, with the reason, when the peer cannot run here.

import { loadPeer, startJaxJs, startTfjs } from "./peer-runtimes.js";
import { seededValues } from "./seeded-data.js";

export interface PeerOps {
  readonly name: string;
  /** Returns a function that multiplies two fixed n x n matrices once, or null when unsupported. */
  matmul(n: number, transA: boolean, transB: boolean): () => Promise<void> | void;
  /** Returns a function that evaluates tanh(1.5 x + 0.5) * x over `size` floats once. */
  tanhChain(size: number): () => Promise<void> | void;
}

export type PeerResult = { ok: true; peer: PeerOps } | { ok: false; name: string; reason: string };

/** TensorFlow.js with @tensorflow/tfjs-backend-wasm, limited to one thread for a single-thread comparison. */
export async function loadTfjs(): Promise<PeerResult> {
  const name = "tfjs-wasm";
  return loadPeer(name, startTfjs, (tf) => {
    const peer: PeerOps = {
      name,
      matmul(n, transA, transB) {
        const a = tf.tensor2d(seededValues(n * n, 1), [n, n]);
        const b = tf.tensor2d(seededValues(n * n, 2), [n, n]);
        return () => tf.matMul(a, b, transA, transB).dispose();
      },
      tanhChain(size) {
        const x = tf.tensor1d(seededValues(size, 3));
        // The wasm backend runs each op synchronously, so the result is complete when the call returns.
        return () => tf.tidy(() => tf.mul(tf.tanh(tf.add(tf.mul(x, 1.5), 0.5)), x)).dispose();
      },
    };
    return peer;
  });
}

/** jax-js on its wasm backend. Node 20 has no Web Worker global, so jax-js runs single-threaded here. */
export async function loadJaxJs(): Promise<PeerResult> {
  const name = "jax-js-wasm";
  return loadPeer(name, startJaxJs, (jax) => {
    const np = jax.numpy;
    type JaxArray = ReturnType<typeof np.array>;
    const peer: PeerOps = {
      name,
      matmul(n, transA, transB) {
        const a = np.array(seededValues(n * n, 1)).reshape([n, n]);
        const b = np.array(seededValues(n * n, 2)).reshape([n, n]);
        const f = jax.jit((x: JaxArray, y: JaxArray) => np.matmul(transA ? x.transpose() : x, transB ? y.transpose() : y));
        return async () => {
          const out = f(a.ref, b.ref);
          await out.blockUntilReady();
          out.dispose();
        };
      },
      tanhChain(size) {
        const x = np.array(seededValues(size, 3));
        const f = jax.jit((v: JaxArray) => np.tanh(v.ref.mul(1.5).add(0.5)).mul(v));
        return async () => {
          const out = f(x.ref);
          await out.blockUntilReady();
          out.dispose();
        };
      },
    };
    return peer;
  });
}
