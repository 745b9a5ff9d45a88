import { describe, expect, it } from 'vitest';
import { HEADERS, parseDeadLetter, parseOutcome } from '@onpush/contracts';
import { createLogger } from '@onpush/telemetry';
import { createAdvisoryHandler } from './advisory-handler.js';
import {
  ORIGINAL_GONE_REASON,
  goneDeadLetters,
  originalDeadLetters,
  parseAdvisory,
  stageOf,
  type OriginalMessage,
} from './advisory.js';

const encoder = new TextEncoder();
const ADVISORY = {
  type: 'io.nats.jetstream.advisory.v1.max_deliver',
  id: 'x1',
  timestamp: '2026-11-26T10:05:00.123456789Z',
  stream: 'ONPUSH',
  consumer: 'restarter',
  stream_seq: 42,
  deliveries: 8,
};
const SUBJECT = '$JS.EVENT.ADVISORY.CONSUMER.MAX_DELIVERIES.ONPUSH.restarter';
const STORED = new Date('2026-11-26T10:00:00.000Z');
const AT = new Date('2026-11-26T10:05:00.000Z');
const original: OriginalMessage = {
  subject: 'onpush.restart.shop',
  data: encoder.encode('{"v":1}'),
  headers: {
    [HEADERS.eventId]: 'gar:7',
    [HEADERS.workloadKind]: 'Deployment',
    [HEADERS.workloadNamespace]: 'shop',
    [HEADERS.workloadName]: 'web',
    [HEADERS.replayOf]: '3',
    traceparent: `00-${'a'.repeat(32)}-${'b'.repeat(16)}-01`,
  },
  time: STORED,
};

describe('max-deliveries advisories', () => {
  it('reads the advisory and the stage from the consumer name', () => {
    expect(parseAdvisory(encoder.encode(JSON.stringify(ADVISORY)))).toMatchObject({
      stream: 'ONPUSH',
      consumer: 'restarter',
      stream_seq: 42,
      deliveries: 8,
    });
    expect(parseAdvisory(encoder.encode('{"type":"io.nats.jetstream.advisory.v1.nak"}'))).toBe(
      undefined,
    );
    expect(parseAdvisory(encoder.encode('not json'))).toBeUndefined();
    expect(stageOf('ONPUSH', 'parser')).toBe('parser');
    expect(stageOf('ONPUSH', 'someone-else')).toBeUndefined();
    // a fleet hub's wave gate is the parser's (its advisory becomes the parser's dead letter)
    expect(stageOf('ONPUSH', 'fleet-wave-2')).toBe('parser');
    expect(stageOf('ONPUSH_DLQ', 'parser')).toBeUndefined();
  });

  it('dead-letters the original under the key its stage uses, with its workload and trace', () => {
    const parsed = parseAdvisory(encoder.encode(JSON.stringify(ADVISORY)))!;
    const [letter, outcome] = originalDeadLetters('restarter', parsed, original, AT);
    expect(letter).toMatchObject({
      subject: 'onpush.dead.restarter',
      msgId: 'dead:restarter:ONPUSH:42',
    });
    expect(parseDeadLetter(letter?.data)).toMatchObject({
      id: 'dead:restarter:ONPUSH:42',
      stage: 'restarter',
      reason: 'max_deliveries',
      attempts: 8,
      subject: 'onpush.restart.shop',
      headers: original.headers,
      payload: Buffer.from('{"v":1}').toString('base64'),
      firstFailedAt: STORED.toISOString(),
      lastFailedAt: AT.toISOString(),
      traceId: 'a'.repeat(32),
      replayOf: '3',
    });
    expect(outcome?.msgId).toBe('dead:restarter:ONPUSH:42:outcome');
    expect(parseOutcome(outcome?.data)).toMatchObject({
      eventId: 'gar:7',
      fate: 'dead',
      stage: 'restarter',
      reason: 'max_deliveries',
      workload: { kind: 'Deployment', namespace: 'shop', name: 'web' },
    });
  });

  it('keeps the advisory itself when the original is gone', () => {
    const data = encoder.encode(JSON.stringify(ADVISORY));
    const out = goneDeadLetters('restarter', parseAdvisory(data)!, { subject: SUBJECT, data }, AT);
    expect(out).toHaveLength(1);
    expect(parseDeadLetter(out[0]?.data)).toMatchObject({
      reason: ORIGINAL_GONE_REASON,
      subject: SUBJECT,
      attempts: 8,
      payload: Buffer.from(data).toString('base64'),
    });
  });

  it('handles an advisory: original, gone, or not ours', async () => {
    const log = createLogger({ service: 'test' }, { level: 'error' });
    const found = new Map([[42, original]]);
    const handle = createAdvisoryHandler({
      original: (_stream, seq) => Promise.resolve(found.get(seq)),
      log,
    });
    const msg = (body: object) => ({
      subject: SUBJECT,
      data: encoder.encode(JSON.stringify(body)),
      headers: {},
      seq: 1,
      deliveryCount: 1,
      storedAt: AT,
    });
    expect((await handle(msg(ADVISORY))).map((o) => o.subject)).toEqual([
      'onpush.dead.restarter',
      'onpush.outcome.dead',
    ]);
    const gone = await handle(msg({ ...ADVISORY, stream_seq: 43 }));
    expect(parseDeadLetter(gone[0]?.data).reason).toBe(ORIGINAL_GONE_REASON);
    expect(await handle(msg({ ...ADVISORY, consumer: 'audit' }))).toEqual([]);
  });
});
