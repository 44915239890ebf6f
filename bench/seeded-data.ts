// Deterministic benchmark inputs shared by every benchmark and its peers.

/** Returns `size` float32 values in [-0.5, 0.5) from a linear congruential generator seeded with `seed`. */
export function seededValues(size: number, seed: number): Float32Array {
  const out = new Float32Array(size);
  let state = seed;
  for (let i = 0; i < size; i++) {
    state = (state * 1664525 + 1013904223) >>> 0;
    out[i] = state / 2 ** 32 - 0.5;
  }
  return out;
}
