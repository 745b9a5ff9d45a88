import { describe, expect, it } from 'vitest';
import { HEADERS, parseDeadLetter, parseOutcome } from '@onpush/contracts';
import { deadLetterFor, deadLetterKey, firstFailedAt } from './dead-letter.js';
import type { Incoming } from './message-machine.js';

const STORED = new Date('2026-11-26T10:00:00.000Z');
const NOW = new Date('2026-11-26T10:05:00.000Z');

const msg = (deliveryCount: number, headers: Record<string, string> = {}): Incoming => ({
  subject: 'onpush.restart.shop',
  data: new TextEncoder().encode('{"v":1}'),
  headers: { [HEADERS.eventId]: 'gar:1', ...headers },
  seq: 42,
  deliveryCount,
  storedAt: STORED,
});

describe('dead letters', () => {
  it('are keyed by stage, stream and sequence: the key is their id and their Nats-Msg-Id', () => {
    const failure = { type: 'http_403', message: 'forbidden', retryable: false };
    const [letter, outcome] = deadLetterFor('restarter', msg(1), failure, 'ONPUSH', NOW);
    expect(deadLetterKey('restarter', 'ONPUSH', 42)).toBe('dead:restarter:ONPUSH:42');
    expect(letter?.msgId).toBe('dead:restarter:ONPUSH:42');
    expect(parseDeadLetter(letter?.data).id).toBe('dead:restarter:ONPUSH:42');
    expect(outcome?.msgId).toBe('dead:restarter:ONPUSH:42:outcome');
  });

  it('date the first failure at the first delivery, and link a replay to its entry', () => {
    const failure = { type: 'http_500', message: 'oops', retryable: true };
    const replayed = msg(3, {
      [HEADERS.replayOf]: '17',
      [HEADERS.workloadKind]: 'Deployment',
      [HEADERS.workloadNamespace]: 'shop',
      [HEADERS.workloadName]: 'web',
    });
    const [letter, outcome] = deadLetterFor('restarter', replayed, failure, 'ONPUSH', NOW);
    expect(parseDeadLetter(letter?.data)).toMatchObject({
      reason: 'max_deliveries',
      attempts: 3,
      firstFailedAt: STORED.toISOString(),
      lastFailedAt: NOW.toISOString(),
      replayOf: '17',
    });
    expect(parseOutcome(outcome?.data)).toMatchObject({
      eventId: 'gar:1',
      fate: 'dead',
      workload: { kind: 'Deployment', namespace: 'shop', name: 'web' },
    });
  });

  it('date a failure on the first delivery now', () => {
    expect(firstFailedAt(msg(1), NOW)).toBe(NOW);
    expect(firstFailedAt(msg(2), NOW)).toBe(STORED);
    expect(firstFailedAt({ ...msg(2), storedAt: undefined }, NOW)).toBe(NOW);
  });
});
