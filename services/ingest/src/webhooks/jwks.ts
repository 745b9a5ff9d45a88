import { readFile } from 'node:fs/promises';
import { createLocalJWKSet, type CryptoKey, type JSONWebKeySet } from 'jose';
import { AuthUnavailableError } from './errors.js';
import { getText, type Fetcher } from './fetch.js';

const HOUR = 3_600_000;
const MIN_TTL = 60_000;
const MAX_TTL = 24 * HOUR;
/** An unknown `kid` refreshes the keys, but not more often than this (a forged kid is cheap). */
const MIN_REFRESH = 30_000;

type KeySet = ReturnType<typeof createLocalJWKSet>;

/**
 * Signing keys from a JWKS URL (Google's by default) or file, cached for the server's max-age
 * (1 h when it gives none) and refreshed when a token names a key not seen yet. When a refresh
 * fails, the keys already known keep working. The document is read by jose's
 * `createLocalJWKSet`, which picks the RS256 verification key of a `kid` (unusable keys match
 * nothing). Not jose's `createRemoteJWKSet`: it caches for a fixed time instead of the
 * server's max-age, drops the known keys when a refresh fails, reads no file and no size cap.
 */
export class JwksKeys {
  private keys: KeySet | undefined;
  private expiresAt = 0;
  private fetchedAt = -Infinity;
  private refreshing: Promise<void> | undefined;

  constructor(
    private readonly source: { url: string } | { file: string },
    private readonly fetcher: Fetcher = fetch,
    private readonly now: () => number = Date.now,
  ) {}

  /** The RS256 key `kid`, undefined when the issuer has no such key; throws AuthUnavailableError. */
  async key(kid: string): Promise<CryptoKey | undefined> {
    if (this.now() >= this.expiresAt) await this.update(kid);
    const known = await this.lookup(kid);
    if (known !== undefined || this.now() - this.fetchedAt < MIN_REFRESH) return known;
    await this.update(kid);
    return this.lookup(kid);
  }

  private async lookup(kid: string): Promise<CryptoKey | undefined> {
    if (this.keys === undefined) return undefined;
    try {
      return await this.keys({ alg: 'RS256', kid });
    } catch {
      return undefined; // no key, or no usable one, by that kid
    }
  }

  /** Refreshes once for all waiting callers; a failure is only an error when `kid` is unknown. */
  private async update(kid: string): Promise<void> {
    try {
      await (this.refreshing ??= this.refresh().finally(() => (this.refreshing = undefined)));
    } catch (error) {
      if ((await this.lookup(kid)) === undefined)
        throw new AuthUnavailableError(`signing keys unavailable: ${(error as Error).message}`, {
          cause: error,
        });
    }
  }

  private async refresh(): Promise<void> {
    this.fetchedAt = this.now();
    const { text, maxAgeMs } =
      'url' in this.source
        ? await getText(this.source.url, this.fetcher)
        : { text: await readFile(this.source.file, 'utf8'), maxAgeMs: MIN_TTL };
    this.keys = createLocalJWKSet(JSON.parse(text) as JSONWebKeySet);
    this.expiresAt = this.now() + Math.min(MAX_TTL, Math.max(MIN_TTL, maxAgeMs ?? HOUR));
  }
}
