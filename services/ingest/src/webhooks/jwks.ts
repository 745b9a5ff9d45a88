import { createPublicKey, type JsonWebKey, type KeyObject } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { AuthUnavailableError } from './errors.js';
import { getText, type Fetcher } from './fetch.js';

const HOUR = 3_600_000;
const MIN_TTL = 60_000;
const MAX_TTL = 24 * HOUR;
/** An unknown `kid` refreshes the keys, but not more often than this (a forged kid is cheap). */
const MIN_REFRESH = 30_000;

/** The RS256 signing keys of a JWKS document, by `kid`. Unusable keys are skipped. */
export function parseJwks(text: string): Map<string, KeyObject> {
  const keys = new Map<string, KeyObject>();
  const doc = JSON.parse(text) as { keys?: unknown };
  if (!Array.isArray(doc.keys)) throw new Error('a JWKS document has a keys array');
  for (const jwk of doc.keys as Record<string, unknown>[]) {
    if (jwk['kty'] !== 'RSA' || typeof jwk['kid'] !== 'string') continue;
    if (jwk['use'] !== undefined && jwk['use'] !== 'sig') continue;
    if (jwk['alg'] !== undefined && jwk['alg'] !== 'RS256') continue;
    try {
      keys.set(jwk['kid'], createPublicKey({ key: jwk as JsonWebKey, format: 'jwk' }));
    } catch {
      // not a usable RSA public key: skipped, like any unknown entry
    }
  }
  return keys;
}

/**
 * Signing keys from a JWKS URL (Google's by default) or file, cached for the server's max-age
 * (1 h when it gives none) and refreshed when a token names a key not seen yet. When a refresh
 * fails, the keys already known keep working.
 */
export class JwksKeys {
  private keys = new Map<string, KeyObject>();
  private expiresAt = 0;
  private fetchedAt = -Infinity;
  private refreshing: Promise<void> | undefined;

  constructor(
    private readonly source: { url: string } | { file: string },
    private readonly fetcher: Fetcher = fetch,
    private readonly now: () => number = Date.now,
  ) {}

  /** The key `kid`, undefined when the issuer has no such key; throws AuthUnavailableError. */
  async key(kid: string): Promise<KeyObject | undefined> {
    const stale = this.now() >= this.expiresAt;
    const unknown = !this.keys.has(kid) && this.now() - this.fetchedAt >= MIN_REFRESH;
    if (stale || unknown) {
      try {
        await (this.refreshing ??= this.refresh().finally(() => (this.refreshing = undefined)));
      } catch (error) {
        if (!this.keys.has(kid))
          throw new AuthUnavailableError(`signing keys unavailable: ${(error as Error).message}`, {
            cause: error,
          });
      }
    }
    return this.keys.get(kid);
  }

  private async refresh(): Promise<void> {
    this.fetchedAt = this.now();
    const { text, maxAgeMs } =
      'url' in this.source
        ? await getText(this.source.url, this.fetcher)
        : { text: await readFile(this.source.file, 'utf8'), maxAgeMs: MIN_TTL };
    this.keys = parseJwks(text);
    this.expiresAt = this.now() + Math.min(MAX_TTL, Math.max(MIN_TTL, maxAgeMs ?? HOUR));
  }
}
