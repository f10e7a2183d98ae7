/**
 * A token bucket: `burst` requests may go at once, then the bucket refills at `requestsPerMinute`.
 * The stand-ins use it to answer 429 the way a rate-limited API does, on an injectable clock so that tests can
 * empty and refill it without sleeping.
 */

export interface TokenBucketOptions {
  /** Refill rate. */
  requestsPerMinute: number;
  /** Capacity: how many requests may be made back to back when the bucket is full. */
  burst: number;
  /**
   * Clock in epoch milliseconds.
   * @default Date.now
   */
  now?: () => number;
}

/** The answer to one request for a token, with what a server needs for its rate-limit headers. */
export interface TokenBucketDecision {
  allowed: boolean;
  /** The bucket's capacity (`burst`). */
  limit: number;
  /** Whole tokens left after this request. */
  remaining: number;
  /** Epoch ms: when the bucket is full again (allowed) or when the next token arrives (refused). */
  resetAt: number;
  /** Milliseconds until the next token arrives; 0 when the request was allowed. */
  retryAfterMs: number;
}

/** One token expressed in credit units: a whole minute of milliseconds, so refills stay in integer arithmetic. */
const CREDIT_PER_TOKEN = 60_000;

export class TokenBucket {
  private readonly requestsPerMinute: number;
  private readonly burst: number;
  private readonly now: () => number;
  /** Credit in units of 1/60000 token. Each elapsed millisecond adds `requestsPerMinute` units, exactly. */
  private credit: number;
  private lastRefillAt: number;

  constructor(options: TokenBucketOptions) {
    if (!(options.requestsPerMinute > 0)) throw new RangeError('requestsPerMinute must be greater than 0');
    if (!Number.isInteger(options.burst) || options.burst < 1) throw new RangeError('burst must be an integer ≥ 1');
    this.requestsPerMinute = options.requestsPerMinute;
    this.burst = options.burst;
    this.now = options.now ?? Date.now;
    this.credit = this.capacity;
    this.lastRefillAt = this.now();
  }

  take(): TokenBucketDecision {
    const now = this.refill();
    const allowed = this.credit >= CREDIT_PER_TOKEN;
    if (allowed) this.credit -= CREDIT_PER_TOKEN;
    const remaining = Math.floor(this.credit / CREDIT_PER_TOKEN);
    if (allowed) {
      const msUntilFull = Math.ceil((this.capacity - this.credit) / this.requestsPerMinute);
      return { allowed, limit: this.burst, remaining, resetAt: now + msUntilFull, retryAfterMs: 0 };
    }
    const msUntilNextToken = Math.ceil((CREDIT_PER_TOKEN - this.credit) / this.requestsPerMinute);
    return { allowed, limit: this.burst, remaining, resetAt: now + msUntilNextToken, retryAfterMs: msUntilNextToken };
  }

  private get capacity(): number {
    return this.burst * CREDIT_PER_TOKEN;
  }

  private refill(): number {
    const now = this.now();
    // A clock that steps backwards (tests, NTP) must not drain the bucket.
    const elapsedMs = Math.max(0, now - this.lastRefillAt);
    this.credit = Math.min(this.capacity, this.credit + elapsedMs * this.requestsPerMinute);
    this.lastRefillAt = now;
    return now;
  }
}
