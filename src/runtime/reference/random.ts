// Counter-based random bits: Threefry-2x32 with 20 rounds (Salmon et al., SC 2011), as JAX uses.
// Element j of any random tensor depends only on the key and j, so a shard can draw its part alone.

const rotations = [13, 15, 26, 6, 17, 29, 16, 24];

function rotl(x: number, r: number): number {
  return ((x << r) | (x >>> (32 - r))) >>> 0;
}

/** Encrypts the counter pair (c0, c1) under key (k0, k1); returns two uint32 words. */
export function threefry2x32(k0: number, k1: number, c0: number, c1: number): [number, number] {
  const ks = [k0 >>> 0, k1 >>> 0, (k0 ^ k1 ^ 0x1bd11bda) >>> 0];
  let x0 = (c0 + ks[0]) >>> 0;
  let x1 = (c1 + ks[1]) >>> 0;

  for (let block = 0; block < 5; block++) {
    for (let r = 0; r < 4; r++) {
      x0 = (x0 + x1) >>> 0;
      x1 = rotl(x1, rotations[(block % 2) * 4 + r]) ^ x0;
    }
    x0 = (x0 + ks[(block + 1) % 3]) >>> 0;
    x1 = (x1 + ks[(block + 2) % 3] + block + 1) >>> 0;
  }
  return [x0, x1];
}

/** Maps a uint32 to a float in [0, 1) with 24 random mantissa bits, exact in float32. */
export function bitsToUnit(bits: number): number {
  return (bits >>> 8) / 16777216;
}

/** Fills `count` uint32 words for counters 0..count-1 (first word of each block). */
export function randomWords(k0: number, k1: number, count: number): Uint32Array {
  const out = new Uint32Array(count);
  for (let j = 0; j < count; j++) out[j] = threefry2x32(k0, k1, 0, j)[0];
  return out;
}

/** Standard normal samples by Box-Muller on the two words of counter j. */
export function normalSamples(k0: number, k1: number, count: number): Float64Array {
  const out = new Float64Array(count);
  for (let j = 0; j < count; j++) {
    const [w0, w1] = threefry2x32(k0, k1, 0, j);
    const u1 = 1 - bitsToUnit(w0); // in (0, 1], so log(u1) is finite
    const u2 = bitsToUnit(w1);
    out[j] = Math.sqrt(-2 * Math.log(u1)) * Math.cos(2 * Math.PI * u2);
  }
  return out;
}
