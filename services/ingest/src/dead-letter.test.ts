import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { parseDeadLetter, parseOutcome } from '@onpush/contracts';
import { KEPT_BYTES, keptBytes, oversizedDeadLetter } from './dead-letter.js';
import type { GarDelivery } from './handler.js';
import { PayloadTooLargeError } from './payload-limit.js';

const MIB = 1024 * 1024;
const receivedAt = new Date('2025-05-05T05:05:05.000Z');
const data = Buffer.alloc(2 * MIB, 'x');
const delivery: GarDelivery = {
  data,
  messageId: '77',
  publishTime: new Date('2025-05-05T05:05:04.000Z'),
  attributes: {
    a: 'b',
    googclient_traceparent: '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01',
  },
  via: 'pull',
  subscription: 'projects/p/subscriptions/onpush-gcr',
};
const error = new PayloadTooLargeError(2 * MIB, 400, MIB);

describe('oversizedDeadLetter', () => {
  it('a dead letter on onpush.dead.ingest and a dead outcome, keyed by the event', () => {
    const [letter, outcome] = oversizedDeadLetter(delivery, error, { receivedAt });
    expect(letter).toMatchObject({
      subject: 'onpush.dead.ingest',
      msgId: 'dead:ingest:gar:77',
      headers: { 'Onpush-Event-Id': 'gar:77' },
    });
    expect(outcome).toMatchObject({
      subject: 'onpush.outcome.dead',
      msgId: 'dead:ingest:gar:77:outcome',
      headers: { 'Onpush-Event-Id': 'gar:77' },
    });

    const dead = parseDeadLetter(letter!.data);
    expect(dead).toMatchObject({
      id: 'dead:ingest:gar:77',
      stage: 'ingest',
      reason: 'payload_too_large',
      attempts: 1,
      subject: 'projects/p/subscriptions/onpush-gcr',
      firstFailedAt: receivedAt.toISOString(),
      lastFailedAt: receivedAt.toISOString(),
      traceId: '0af7651916cd43dd8448eb211c80319c',
    });
    expect(dead.error).toContain(`${2 * MIB} bytes of data`);
    expect(dead.error).toContain(`max_payload of ${MIB} bytes`);
    expect(dead.error).toContain(`original size ${2 * MIB} bytes, the first ${KEPT_BYTES} kept`);
    expect(dead.headers).toMatchObject({
      'Onpush-Event-Id': 'gar:77',
      'Onpush-Source': 'gar',
      'Onpush-Original-Size': String(2 * MIB),
      'Onpush-Transport-a': 'b',
      'Onpush-Transport-via': 'pull',
    });
    const kept = Buffer.from(dead.payload, 'base64');
    expect(kept.equals(data.subarray(0, KEPT_BYTES))).toBe(true);
    expect(dead.truncated).toEqual({
      originalBytes: 2 * MIB,
      sha256: createHash('sha256').update(data).digest('hex'),
      keptBytes: KEPT_BYTES,
      droppedHeaders: 0,
      reason: `the message (${2 * MIB} bytes of data) exceeds the NATS server's max_payload of ${MIB} bytes`,
    });

    expect(parseOutcome(outcome!.data)).toEqual({
      v: 1,
      eventId: 'gar:77',
      fate: 'dead',
      stage: 'ingest',
      reason: 'payload_too_large',
      detail: dead.error.slice(0, 500),
      at: receivedAt.toISOString(),
    });
  });

  it('keeps 64 KiB, a quarter of a small max_payload, never more than the data', () => {
    expect(keptBytes(MIB)).toBe(KEPT_BYTES);
    expect(keptBytes(100_000)).toBe(25_000);
    const small = { ...delivery, data: Buffer.from('abc') };
    const [letter] = oversizedDeadLetter(small, error, { receivedAt });
    expect(parseDeadLetter(letter!.data).payload).toBe(Buffer.from('abc').toString('base64'));
  });
});
