// Counters of a compiled function's cache.

export class CompileStats {
  /** Calls served by a cached program. */
  hits = 0;
  /** Calls that traced and compiled a new program. */
  misses = 0;
  /** Calls that could not be traced and ran eagerly. */
  fallbacks = 0;

  get calls(): number {
    return this.hits + this.misses + this.fallbacks;
  }

  /** Fraction of calls served from the cache, in [0, 1]; 0 before the first call. */
  get hitRate(): number {
    return this.calls === 0 ? 0 : this.hits / this.calls;
  }

  toString(): string {
    return `CompileStats(hits=${this.hits}, misses=${this.misses}, fallbacks=${this.fallbacks}, hitRate=${(this.hitRate * 100).toFixed(1)}%)`;
  }

  toJSON(): { hits: number; misses: number; fallbacks: number; hitRate: number } {
    return { hits: this.hits, misses: this.misses, fallbacks: this.fallbacks, hitRate: this.hitRate };
  }
}
