// Token buckets per caller (a key id, or the client address when anonymous): `perMinute` requests
// in a burst, refilled evenly. Buckets that have refilled are forgotten once a minute (and when
// the table passes its cap), so it stays near the set of callers busy in the last minutes. A
// request takes one token when it arrives; a large answer is charged more once its size is known
// (`charge`), since encoding it holds the main thread for every tenant.

export type Take = { ok: true } | { ok: false; retryAfterSeconds: number };

/**
 * An answer costs one more token per this many KiB of body. `node dist/bench/page-cost.js`: a
 * 4-MiB log page held the main thread 43–65 ms here (~10–16 µs a KiB, listing and encoding). At
 * the default 600 a minute (10 tokens/s), 64 KiB a token lets a caller have ~640 KiB/s encoded,
 * ~1% of a core (a 4-MiB page every 6.5 s, after a full bucket's burst of nine), where counting
 * requests alone let one caller take 121 pages in 10 s. Answers under 64 KiB cost what they did.
 */
export const ANSWER_KIB_PER_TOKEN = 64;

/** The tokens an answer of `bytes` costs on top of its request's. */
export const answerTokens = (bytes: number): number => Math.floor(bytes / (ANSWER_KIB_PER_TOKEN * 1024));

const SWEEP_EVERY_MS = 60_000;

interface Bucket {
  tokens: number;
  at: number;
}

export class RateLimiter {
  private readonly buckets = new Map<string, Bucket>();
  private readonly perMs: number;
  private sweptAt = 0;

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
    // Swept past the cap alone, the buckets of deleted workspaces and gone addresses stayed for good.
    if (this.buckets.size > this.maxBuckets || now - this.sweptAt >= SWEEP_EVERY_MS) this.sweep(now);
    return { ok: true };
  }

  /**
   * Spends `tokens` more of the caller's budget, after its request was let in: the bucket may go
   * below zero, and the caller's next requests wait until it refills past one. The debt stops at a
   * full bucket's worth, so one answer never shuts a caller out for more than ~2 minutes.
   */
  charge(key: string, tokens: number): void {
    if (this.perMinute <= 0 || tokens <= 0) return;
    const now = this.now();
    const b = this.buckets.get(key) ?? { tokens: this.perMinute, at: now };
    b.tokens = Math.max(
      -this.perMinute,
      Math.min(this.perMinute, b.tokens + (now - b.at) * this.perMs) - tokens,
    );
    b.at = now;
    this.buckets.set(key, b);
    if (this.buckets.size > this.maxBuckets) this.sweep(now);
  }

  /** Callers with a bucket (the soak check: refilled ones go). */
  get tracked(): number {
    return this.buckets.size;
  }

  /** Drops buckets that have refilled (they hold no state a fresh bucket would not). */
  private sweep(now: number): void {
    this.sweptAt = now;
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
