import { describe, expect, it } from 'vitest';
import { encode, toPayload, type DeadLetter } from '@onpush/contracts';
import {
  decodeEntry,
  replayHeaders,
  replayMsgId,
  replayTarget,
  subjectMatches,
  summaryOf,
} from './entry.js';
import { parseId } from './errors.js';

const letter: DeadLetter = {
  v: 1,
  id: 'b0f1a2c3-0000-4000-8000-000000000000',
  stage: 'parser',
  reason: 'invalid_json',
  error: 'body is not JSON',
  attempts: 1,
  subject: 'onpush.raw.gar',
  headers: { 'Nats-Msg-Id': 'onpush.raw.gar|pubsub-1', 'Onpush-Source': 'gar' },
  payload: toPayload(new TextEncoder().encode('{oops')),
  firstFailedAt: '2025-05-01T11:00:00.000Z',
  lastFailedAt: '2025-05-01T11:00:00.000Z',
};
const time = new Date('2025-05-01T11:00:00.005Z');

describe('decodeEntry', () => {
  it('gives the entry its stream sequence as id, and merges the replay state', () => {
    const entry = decodeEntry(
      { seq: 42, subject: 'onpush.dead.parser', data: encode(letter), time },
      { replayedAt: '2025-05-02T00:00:00.000Z', count: 2 },
    );
    expect(entry).toEqual({
      id: 42,
      letterId: letter.id,
      stage: 'parser',
      reason: 'invalid_json',
      error: 'body is not JSON',
      attempts: 1,
      subject: 'onpush.raw.gar',
      firstFailedAt: letter.firstFailedAt,
      lastFailedAt: letter.lastFailedAt,
      storedAt: '2025-05-01T11:00:00.005Z',
      replayedAt: '2025-05-02T00:00:00.000Z',
      replayCount: 2,
      valid: true,
      headers: letter.headers,
      payload: letter.payload,
    });
    expect(Object.keys(summaryOf(entry))).not.toEqual(expect.arrayContaining(['payload']));
    expect(summaryOf(entry)).not.toHaveProperty('headers');
  });

  it('shows how a cut letter was cut, in the entry and in its summary', () => {
    const truncated = {
      originalBytes: 900_000,
      sha256: 'a'.repeat(64),
      keptBytes: 786_000,
      droppedHeaders: 0,
      reason: "the dead letter (1200400 bytes) would exceed the NATS server's max_payload",
    };
    const entry = decodeEntry({
      seq: 43,
      subject: 'onpush.dead.parser',
      data: encode({ ...letter, truncated }),
      time,
    });
    expect(entry.truncated).toEqual(truncated);
    expect(summaryOf(entry).truncated).toEqual(truncated);
    expect(
      decodeEntry({ seq: 44, subject: 'onpush.dead.parser', data: encode(letter), time }),
    ).not.toHaveProperty('truncated');
  });

  it('keeps a message that is not a DeadLetter as an invalid entry of the subject stage', () => {
    const data = new TextEncoder().encode('{"v":1}');
    const entry = decodeEntry({ seq: 7, subject: 'onpush.dead.resolver', data, time });
    expect(entry).toMatchObject({
      id: 7,
      stage: 'resolver',
      reason: 'invalid_entry',
      attempts: 0,
      valid: false,
      replayCount: 0,
    });
    expect(entry.error).toMatch(/^invalid DeadLetter: /);
    expect(Buffer.from(entry.payload, 'base64').toString()).toBe('{"v":1}');
  });
});

describe('replay', () => {
  it('drops Nats-* headers, keeps the rest, repeats lists, and marks the replay', () => {
    const headers = {
      'Nats-Msg-Id': 'x',
      'nats-expected-stream': 'ONPUSH',
      'Onpush-Replay-Of': '3',
      traceparent: 't',
      'Onpush-Transport-x-a': ['1', '2'],
    };
    expect(replayHeaders(headers, 42)).toEqual([
      ['traceparent', 't'],
      ['Onpush-Transport-x-a', '1'],
      ['Onpush-Transport-x-a', '2'],
      ['Onpush-Replay-Of', '42'],
    ]);
    expect(replayMsgId(42, 3)).toBe('replay:42:3');
  });

  it.each([
    ['onpush.raw.gar', true],
    ['onpush.pushed', true],
    ['onpush.restart.default', true],
    ['onpush.raw', false],
    ['onpush.raw.', false],
    ['onpush.dead.parser', false],
    ['onpush.outcome.dead', false],
    ['$JS.API.STREAM.DELETE.ONPUSH', false],
    ['onpush.restart.a b', false],
  ])('replays to %s: %s', (subject, ok) => {
    expect(replayTarget(subject)).toBe(ok ? subject : undefined);
  });

  it('matches subjects as NATS does', () => {
    expect(subjectMatches('a.*.c', 'a.b.c')).toBe(true);
    expect(subjectMatches('a.*', 'a.b.c')).toBe(false);
    expect(subjectMatches('a.>', 'a')).toBe(false);
    expect(subjectMatches('a.>', 'a.b.c')).toBe(true);
  });
});

describe('parseId', () => {
  it('accepts a stream sequence only', () => {
    expect(parseId('42')).toBe(42);
    for (const raw of ['0', '-1', '4.2', 'abc', '042', '99999999999999999']) {
      expect(() => parseId(raw)).toThrow(expect.objectContaining({ type: 'invalid_id' }) as Error);
    }
  });
});
