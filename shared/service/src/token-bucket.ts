export interface TokenBucketOptions {
  /** Tokens added per second: the sustained request rate. */
  qps: number;
  /** Bucket size: how many requests may go at once after a quiet spell. */
  burst: number;
  /** Monotonic clock in ms; `performance.now()` unless a test supplies one. */
  now?: () => number;
}

/**
 * A token bucket: `burst` requests at once, then `qps` per second. Two ways to use it:
 * - a client that waits its turn (`take`, `reserve`; the restarter's Kubernetes calls, like
 *   client-go's QPS/burst): a token is reserved at once and paid for by waiting, so the balance
 *   may go negative, callers are served in arrival order and nobody polls;
 * - a server that sheds load (`tryTake`; ingest's 429): a token only when there is one.
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

  private refill(): void {
    const now = this.now();
    this.tokens = Math.min(this.burst, this.tokens + ((now - this.last) * this.qps) / 1000);
    this.last = now;
  }

  /** Takes one token and returns how long (ms) the caller must wait before using it. */
  reserve(): number {
    this.refill();
    this.tokens -= 1;
    return this.tokens >= 0 ? 0 : Math.ceil((-this.tokens * 1000) / this.qps);
  }

  /** Resolves when the caller may send one request. */
  take(): Promise<void> {
    const waitMs = this.reserve();
    if (waitMs === 0) return Promise.resolve();
    return new Promise((resolve) => setTimeout(resolve, waitMs));
  }

  /** 0 when a token was there and is taken; otherwise takes nothing and answers ms until one is. */
  tryTake(): number {
    const wait = this.wait();
    if (wait === 0) this.tokens -= 1;
    return wait;
  }

  /** 0 when a token is there (taking nothing); otherwise ms until one is. */
  wait(): number {
    this.refill();
    return this.tokens >= 1 ? 0 : Math.ceil(((1 - this.tokens) * 1000) / this.qps);
  }
}
