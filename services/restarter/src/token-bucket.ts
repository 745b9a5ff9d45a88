export interface TokenBucketOptions {
  /** Tokens added per second: the sustained request rate. */
  qps: number;
  /** Bucket size: how many requests may go at once after a quiet spell. */
  burst: number;
  /** Monotonic clock in ms; `performance.now()` unless a test supplies one. */
  now?: () => number;
}

/**
 * Client-side rate limit for the Kubernetes API, like client-go's QPS/burst. A caller reserves
 * a token at once and waits until it is paid for: the balance may go negative, so callers are
 * served in arrival order and nobody polls.
 */
export class TokenBucket {
  readonly qps: number;
  readonly burst: number;
  private readonly now: () => number;
  private tokens: number;
  private last: number;

  constructor(options: TokenBucketOptions) {
    if (!(options.qps > 0) || !(options.burst >= 1)) {
      throw new RangeError(
        `token bucket needs qps > 0 and burst >= 1 (got ${options.qps}, ${options.burst})`,
      );
    }
    this.qps = options.qps;
    this.burst = options.burst;
    this.now = options.now ?? (() => performance.now());
    this.tokens = options.burst;
    this.last = this.now();
  }

  /** Takes one token and returns how long (ms) the caller must wait before using it. */
  reserve(): number {
    const now = this.now();
    this.tokens = Math.min(this.burst, this.tokens + ((now - this.last) * this.qps) / 1000);
    this.last = now;
    this.tokens -= 1;
    return this.tokens >= 0 ? 0 : Math.ceil((-this.tokens * 1000) / this.qps);
  }

  /** Resolves when the caller may send one request. */
  take(): Promise<void> {
    const waitMs = this.reserve();
    if (waitMs === 0) return Promise.resolve();
    return new Promise((resolve) => setTimeout(resolve, waitMs));
  }
}
