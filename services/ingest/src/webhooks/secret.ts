import { createHash, timingSafeEqual } from 'node:crypto';
import { inspect } from 'node:util';

/**
 * A secret value that cannot be logged by accident: it prints, serializes and inspects as
 * `***`; only `equals` and `bytes` see it.
 */
export class Secret {
  readonly #value: Buffer;

  constructor(value: string) {
    this.#value = Buffer.from(value, 'utf8');
  }

  get length(): number {
    return this.#value.length;
  }

  /** The raw bytes (for an HMAC key). */
  bytes(): Buffer {
    return Buffer.from(this.#value);
  }

  /** Constant-time comparison with `candidate`, whatever its length. */
  equals(candidate: string | Buffer, prefix = ''): boolean {
    const expected =
      prefix === '' ? this.#value : Buffer.concat([Buffer.from(prefix), this.#value]);
    return safeEqual(expected, Buffer.from(candidate));
  }

  toString(): string {
    return '***';
  }

  toJSON(): string {
    return '***';
  }

  [inspect.custom](): string {
    return 'Secret(***)';
  }
}

const digest = (value: Buffer): Buffer => createHash('sha256').update(value).digest();

/**
 * Constant-time equality of two byte strings of any lengths: both are hashed to 32 bytes first,
 * so neither the content nor the length of the expected value leaks through timing.
 */
export function safeEqual(a: Buffer, b: Buffer): boolean {
  return timingSafeEqual(digest(a), digest(b)) && a.length === b.length;
}
