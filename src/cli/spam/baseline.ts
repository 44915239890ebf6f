// The baseline row: logistic regression (one nn.Linear) on a hashed bag of words, trained with nabla-ts.

import * as nb from "nabla-ts";

/** Number of hash buckets of the bag of words. */
export const hashBuckets = 1024;

/** FNV-1a hash of a word, as a uint32. */
function fnv1a(word: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < word.length; i++) h = Math.imul(h ^ word.charCodeAt(i), 0x01000193);
  return h >>> 0;
}

/** Features [count, buckets]: log(1 + count) of each word's bucket, each row scaled to unit L2 norm. */
export function hashedBagOfWords(tokenLists: readonly string[][], buckets = hashBuckets): nb.Tensor {
  const features = new Float32Array(tokenLists.length * buckets);
  tokenLists.forEach((tokens, row) => {
    const counts = features.subarray(row * buckets, (row + 1) * buckets);
    for (const t of tokens) counts[fnv1a(t) % buckets] += 1;
    let norm = 0;
    for (let j = 0; j < buckets; j++) {
      counts[j] = Math.log1p(counts[j]);
      norm += counts[j] * counts[j];
    }
    const scale = norm > 0 ? 1 / Math.sqrt(norm) : 0;
    for (let j = 0; j < buckets; j++) counts[j] *= scale;
  });
  return nb.tensor(features, { shape: [tokenLists.length, buckets] });
}

export interface BaselineOptions {
  readonly steps?: number;
  readonly lr?: number;
}

/** Trains one nn.Linear on full-batch cross entropy with AdamW; returns the model. */
export function trainBaseline(features: nb.Tensor, labels: nb.Tensor, options: BaselineOptions = {}): nb.nn.Linear {
  const { steps = 150, lr = 0.05 } = options;
  const model = new nb.nn.Linear(features.shape[1], 2);
  const lossFn = (m: nb.nn.Linear): nb.Tensor => nb.nn.functional.crossEntropyLoss(m.call(features), labels);
  const step = nb.compile((m: nb.nn.Linear, state: nb.nn.optim.AdamState) => {
    const [loss, grads] = nb.valueAndGrad(lossFn)(m) as [nb.Tensor, nb.nn.Linear];
    const [next, nextState] = nb.nn.optim.adamwUpdate(m, grads, state, { lr, weightDecay: 0 });
    return [next, nextState, loss] as const;
  });
  let current = model;
  let state = nb.nn.optim.adamwInit(current);
  for (let i = 0; i < steps; i++) [current, state] = step(current, state);
  return current;
}

/** Predicted class (0 or 1) per row. */
export function predictBaseline(model: nb.nn.Linear, features: nb.Tensor): Int32Array {
  return nb.argmax(model.call(features), { axis: -1 }).toArray() as Int32Array;
}
