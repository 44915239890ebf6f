// Peer implementations for bench/training.ts: the MLP training step and one eager add, on TensorFlow.js
// (wasm backend, one thread) and jax-js (wasm backend, jit). A loader returns `ok: false` and the reason
// when its peer cannot run here.

import type { Tensor, Variable } from "@tensorflow/tfjs-core";
import { mlpLearningRate, type MlpData } from "./training-data.js";
import { loadPeer, startJaxJs, startTfjs } from "./peer-runtimes.js";
import { seededValues } from "./seeded-data.js";

/** The same training step and small op, as one peer runs them. */
export interface TrainingPeer {
  readonly name: string;
  /** Returns a function that runs one SGD step of the MLP and returns the loss before the update. */
  mlpStep(data: MlpData): () => Promise<number> | number;
  /** Returns a function that adds two fixed float32 vectors of `size` elements and reads the sum back. */
  eagerAdd(size: number): () => Float32Array | Int32Array | Uint8Array;
}

export type TrainingPeerResult = { ok: true; peer: TrainingPeer } | { ok: false; name: string; reason: string };

/**
 * TensorFlow.js with @tensorflow/tfjs-backend-wasm on one thread. Under Node, the bundle of
 * @tensorflow/tfjs-core 4.22 registers no gradients, so optimizer.minimize fails. The @tensorflow/tfjs
 * package registers them, but it is not a dependency, so the step writes its backward pass with tf ops.
 */
export async function loadTfjs(): Promise<TrainingPeerResult> {
  const name = "tfjs-wasm";
  return loadPeer(name, startTfjs, (tf) => {
    const peer: TrainingPeer = {
      name,
      mlpStep(data) {
        const [inputs, hidden, classes] = data.sizes;
        const w1 = tf.variable(tf.tensor2d(data.w1, [inputs, hidden]));
        const b1 = tf.variable(tf.tensor1d(data.b1));
        const w2 = tf.variable(tf.tensor2d(data.w2, [hidden, classes]));
        const b2 = tf.variable(tf.tensor1d(data.b2));
        const x = tf.tensor2d(data.x, [data.batch, inputs]);
        const y = tf.tensor2d(data.yOneHot, [data.batch, classes]);
        const update = (w: Variable, dw: Tensor): void => w.assign(tf.sub(w, tf.mul(dw, mlpLearningRate)));
        return () => {
          const loss = tf.tidy(() => {
            const z1 = tf.add(tf.matMul(x, w1), b1);
            const h = tf.relu(z1);
            const logProbs = tf.logSoftmax(tf.add(tf.matMul(h, w2), b2));
            const value = tf.div(tf.neg(tf.sum(tf.mul(y, logProbs))), data.batch);
            // d loss / d logits = (softmax - onehot) / batch. The matmul gradients use the transpose
            // flags of tfjs's registered BatchMatMul gradient, so the peer runs the kernels it would run.
            const dLogits = tf.div(tf.sub(tf.exp(logProbs), y), data.batch);
            const dHidden = tf.mul(tf.matMul(dLogits, w2, false, true), tf.step(z1));
            update(w2, tf.matMul(h, dLogits, true, false));
            update(b2, tf.sum(dLogits, 0));
            update(w1, tf.matMul(x, dHidden, true, false));
            update(b1, tf.sum(dHidden, 0));
            return value;
          });
          const result = loss.dataSync()[0];
          loss.dispose();
          return result;
        };
      },
      eagerAdd(size) {
        const a = tf.tensor1d(seededValues(size, 1));
        const b = tf.tensor1d(seededValues(size, 2));
        return () => {
          const sum = tf.add(a, b);
          const values = sum.dataSync();
          sum.dispose();
          return values;
        };
      },
    };
    return peer;
  });
}

/**
 * jax-js on its wasm backend with jit. Node 20 has no Web Worker global, so it runs single-threaded.
 * jax-js counts references: every function consumes its array arguments, so a value used again is passed
 * as `.ref`, and the step consumes the old parameters and returns new ones.
 */
export async function loadJaxJs(): Promise<TrainingPeerResult> {
  const name = "jax-js-wasm";
  return loadPeer(name, startJaxJs, (jax) => {
    const np = jax.numpy;
    type JaxArray = ReturnType<typeof np.array>;
    type Params = { w1: JaxArray; b1: JaxArray; w2: JaxArray; b2: JaxArray };

    const peer: TrainingPeer = {
      name,
      mlpStep(data) {
        const [inputs, hidden, classes] = data.sizes;
        let params: Params = {
          w1: np.array(data.w1).reshape([inputs, hidden]),
          b1: np.array(data.b1),
          w2: np.array(data.w2).reshape([hidden, classes]),
          b2: np.array(data.b2),
        };
        const x = np.array(data.x).reshape([data.batch, inputs]);
        const y = np.array(data.yOneHot).reshape([data.batch, classes]);
        const lossFn = (p: Params, xs: JaxArray, ys: JaxArray): JaxArray => {
          const h = jax.nn.relu(np.matmul(xs, p.w1).add(p.b1));
          const logits = np.matmul(h, p.w2).add(p.b2);
          return jax.nn.logSoftmax(logits, -1).mul(ys).sum().mul(-1 / data.batch);
        };
        const step = jax.jit((p: Params, xs: JaxArray, ys: JaxArray): [Params, JaxArray] => {
          const [loss, grads] = jax.valueAndGrad(lossFn)(jax.tree.ref(p), xs, ys);
          const next = jax.tree.map((w: JaxArray, g: JaxArray) => w.sub(g.mul(mlpLearningRate)), p, grads) as Params;
          return [next, loss];
        });
        return () => {
          const [next, loss] = step(params, x.ref, y.ref);
          params = next;
          return loss.item();
        };
      },
      eagerAdd(size) {
        const a = np.array(seededValues(size, 1));
        const b = np.array(seededValues(size, 2));
        return () => np.add(a.ref, b.ref).dataSync() as Float32Array;
      },
    };
    return peer;
  });
}

