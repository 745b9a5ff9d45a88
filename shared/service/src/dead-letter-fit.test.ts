import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import {
  HEADERS,
  encode,
  outcomeSubject,
  parseDeadLetter,
  payloadBytes,
  toPayload,
  type DeadLetter,
} from '@onpush/contracts';
import { deadLetterMessages } from './dead-letter.js';
import { fitDeadLetter, fitDeadLetters, wireBytes } from './dead-letter-fit.js';

const MIB = 1024 * 1024;

function letterOf(payload: Uint8Array, headers: Record<string, string> = {}): DeadLetter {
  return {
    v: 1,
    id: 'dead:parser:ONPUSH:42',
    stage: 'parser',
    reason: 'invalid_json',
    error: 'body is not JSON',
    attempts: 1,
    subject: 'onpush.raw.distribution',
    headers: {
      [HEADERS.eventId]: 'distribution:abc',
      [HEADERS.source]: 'distribution',
      ...headers,
    },
    payload: toPayload(payload),
    firstFailedAt: '2026-01-01T00:00:00.000Z',
    lastFailedAt: '2026-01-01T00:00:00.000Z',
  };
}

const bytes = (n: number): Uint8Array => {
  const out = new Uint8Array(n);
  for (let i = 0; i < n; i += 1) out[i] = (i * 31 + 7) % 251;
  return out;
};
const sha256 = (data: Uint8Array): string => createHash('sha256').update(data).digest('hex');

describe('fitDeadLetter', () => {
  it('leaves a letter that fits as it is', () => {
    const letter = letterOf(bytes(1_000));
    expect(fitDeadLetter(letter, MIB, MIB)).toBe(letter);
  });

  it('keeps the longest prefix that fits, with the original size, digest and why', () => {
    const original = bytes(900_000); // base64: 1.2 MB, over 1 MiB
    const letter = letterOf(original);
    const budget = MIB - 4_096;
    const fitted = fitDeadLetter(letter, budget, MIB);

    expect(encode(fitted).byteLength).toBeLessThanOrEqual(budget);
    expect(encode(fitted).byteLength).toBeGreaterThan(budget - 16); // nothing wasted
    const kept = payloadBytes(fitted);
    expect(Buffer.from(kept).equals(Buffer.from(original.subarray(0, kept.byteLength)))).toBe(true);
    expect(fitted.truncated).toEqual({
      originalBytes: 900_000,
      sha256: sha256(original),
      keptBytes: kept.byteLength,
      droppedHeaders: 0,
      reason: expect.stringMatching(
        /would exceed the NATS server's max_payload of 1048576 bytes/,
      ) as unknown,
    });
    // Still a valid DeadLetter, with everything else as it was.
    expect(parseDeadLetter(encode(fitted))).toEqual(fitted);
    expect(fitted).toMatchObject({
      id: letter.id,
      reason: 'invalid_json',
      headers: letter.headers,
    });
  });

  it('keeps only the headers naming the event when all of them leave no room', () => {
    const many: Record<string, string> = {};
    for (let i = 0; i < 100; i += 1) many[`Onpush-Transport-a${i}`] = 'v'.repeat(1_000);
    const letter = letterOf(bytes(10_000), many);
    const fitted = fitDeadLetter(letter, 20_000, 32_768);

    expect(encode(fitted).byteLength).toBeLessThanOrEqual(20_000);
    expect(fitted.headers).toEqual({
      [HEADERS.eventId]: 'distribution:abc',
      [HEADERS.source]: 'distribution',
    });
    expect(fitted.truncated).toMatchObject({ originalBytes: 10_000, droppedHeaders: 100 });
    expect(fitted.truncated!.keptBytes).toBeGreaterThan(0);
  });

  it('keeps the first original size and digest when a cut letter is cut again', () => {
    const original = bytes(300_000);
    const once = fitDeadLetter(letterOf(original), 200_000, 262_144);
    const twice = fitDeadLetter(once, 50_000, 65_536);
    expect(twice.truncated).toMatchObject({ originalBytes: 300_000, sha256: sha256(original) });
    expect(twice.truncated!.keptBytes).toBeLessThan(once.truncated!.keptBytes);
    expect(encode(twice).byteLength).toBeLessThanOrEqual(50_000);
  });

  it('caps a long error text', () => {
    const letter = { ...letterOf(bytes(100_000)), error: 'e'.repeat(50_000) };
    const fitted = fitDeadLetter(letter, 60_000, 65_536);
    expect(fitted.error.length).toBeLessThan(5_000);
    expect(encode(fitted).byteLength).toBeLessThanOrEqual(60_000);
  });
});

describe('fitDeadLetters', () => {
  it('cuts every dead letter over max_payload (headers and publish room included), nothing else', () => {
    for (const size of [0, 1_000, 700_000, 786_000, 800_000, 1_000_000, MIB, 3 * MIB]) {
      const letter = letterOf(bytes(size));
      const outgoing = deadLetterMessages(letter, 'distribution:abc');
      const fitted = fitDeadLetters(outgoing, MIB);
      for (const out of fitted) expect(wireBytes(out), `${size} bytes`).toBeLessThanOrEqual(MIB);
      const stored = parseDeadLetter(fitted[0]!.data);
      if (wireBytes(outgoing[0]!) <= MIB) expect(fitted[0]).toBe(outgoing[0]);
      else expect(stored.truncated?.originalBytes, `${size} bytes`).toBe(size);
      // The dead outcome is never touched: it is small, and it is what the audit reads.
      expect(fitted[1]).toBe(outgoing[1]);
      expect(fitted[1]!.subject).toBe(outcomeSubject('dead'));
    }
  });

  it('reads the limit it is given, not 1 MiB', () => {
    const outgoing = deadLetterMessages(letterOf(bytes(100_000)), 'distribution:abc');
    const small = fitDeadLetters(outgoing, 64 * 1024);
    expect(wireBytes(small[0]!)).toBeLessThanOrEqual(64 * 1024);
    expect(parseDeadLetter(small[0]!.data).truncated?.reason).toContain('65536 bytes');
    expect(fitDeadLetters(outgoing, 8 * MIB)[0]).toBe(outgoing[0]);
    expect(fitDeadLetters(outgoing, undefined)[0]).toBe(outgoing[0]);
  });
});
