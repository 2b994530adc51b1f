// Token buckets per caller (a key id, or the client address when anonymous): `perMinute` requests
// in a burst, refilled evenly. Full buckets are forgotten, so the table stays as small as the set of
// currently busy callers.

export type Take = { ok: true } | { ok: false; retryAfterSeconds: number };

interface Bucket {
  tokens: number;
  at: number;
}

export class RateLimiter {
  private readonly buckets = new Map<string, Bucket>();
  private readonly perMs: number;

  constructor(
    private readonly perMinute: number,
    private readonly now: () => number = Date.now,
    private readonly maxBuckets = 50_000,
  ) {
    this.perMs = perMinute / 60_000;
  }

  take(key: string): Take {
    if (this.perMinute <= 0) return { ok: true };
    const now = this.now();
    const b = this.buckets.get(key) ?? { tokens: this.perMinute, at: now };
    b.tokens = Math.min(this.perMinute, b.tokens + (now - b.at) * this.perMs);
    b.at = now;
    if (b.tokens < 1) {
      this.buckets.set(key, b);
      return { ok: false, retryAfterSeconds: Math.max(1, Math.ceil((1 - b.tokens) / this.perMs / 1000)) };
    }
    b.tokens -= 1;
    this.buckets.set(key, b);
    if (this.buckets.size > this.maxBuckets) this.sweep(now);
    return { ok: true };
  }

  /** Drops buckets that have refilled (they hold no state a fresh bucket would not). */
  private sweep(now: number): void {
    for (const [k, b] of this.buckets) {
      if (b.tokens + (now - b.at) * this.perMs >= this.perMinute) this.buckets.delete(k);
    }
    // Still too many busy callers (a flood from many addresses): forget the oldest.
    for (const k of this.buckets.keys()) {
      if (this.buckets.size <= this.maxBuckets) break;
      this.buckets.delete(k);
    }
  }
}
