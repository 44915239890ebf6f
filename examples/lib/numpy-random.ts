// NumPy's legacy RandomState (MT19937) for integer draws, so a port can reproduce data made with
// `np.random.seed(s)` and `np.random.randint(low, high, size)`.

const n = 624;
const m = 397;

export class LegacyRandomState {
  readonly #state = new Uint32Array(n);
  #index = n;

  /** Seeds like `np.random.seed(seed)` for an integer seed in [0, 2^32). */
  constructor(seed: number) {
    this.#state[0] = seed >>> 0;
    for (let i = 1; i < n; i++) {
      const prev = this.#state[i - 1] ^ (this.#state[i - 1] >>> 30);
      // 1812433253 * prev + i in uint32 arithmetic, split in 16-bit halves to stay exact.
      this.#state[i] = ((((prev & 0xffff0000) >>> 16) * 1812433253) << 16) + (prev & 0x0000ffff) * 1812433253 + i;
    }
  }

  #twist(): void {
    const s = this.#state;
    for (let i = 0; i < n; i++) {
      const y = (s[i] & 0x80000000) | (s[(i + 1) % n] & 0x7fffffff);
      s[i] = s[(i + m) % n] ^ (y >>> 1) ^ (y & 1 ? 0x9908b0df : 0);
    }
    this.#index = 0;
  }

  /** The next 32-bit output of the generator. */
  nextUint32(): number {
    if (this.#index >= n) this.#twist();
    let y = this.#state[this.#index++];
    y ^= y >>> 11;
    y ^= (y << 7) & 0x9d2c5680;
    y ^= (y << 15) & 0xefc60000;
    y ^= y >>> 18;
    return y >>> 0;
  }

  /**
   * `randint(low, high, count)` values in [low, high), drawn as NumPy's legacy generator does for
   * ranges below 2^32: mask the 32-bit output to the next power of two and reject values past the range.
   */
  randint(low: number, high: number, count: number): number[] {
    const range = high - low - 1;
    let mask = range;
    for (let shift = 1; shift <= 16; shift *= 2) mask |= mask >>> shift;
    const out: number[] = [];
    while (out.length < count) {
      const v = (this.nextUint32() & mask) >>> 0;
      if (v <= range) out.push(low + v);
    }
    return out;
  }
}
