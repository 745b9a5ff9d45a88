import { describe, expect, it } from 'vitest';
import { encode, toPayload, type DeadLetter } from '@onpush/contracts';
import { createLogger, createMetrics } from '@onpush/telemetry';
import { createHandler } from './handler.js';
import { createDlqMetrics } from './metrics.js';

const letter: DeadLetter = {
  v: 1,
  id: 'b0f1a2c3-0000-4000-8000-000000000000',
  stage: 'restarter',
  reason: 'forbidden',
  error: 'patch denied',
  attempts: 3,
  subject: 'onpush.restart.default',
  headers: {},
  payload: toPayload(new Uint8Array([1, 2])),
  firstFailedAt: '2025-05-01T11:00:00.000Z',
  lastFailedAt: '2025-05-01T11:00:00.000Z',
};

function setup() {
  const lines: string[] = [];
  const base = createMetrics('dlq-manager-test');
  const metrics = createDlqMetrics(base.registry);
  let refreshed = 0;
  const log = createLogger({ service: 'dlq-manager' }, { write: (line) => lines.push(line) });
  const handle = createHandler({ log, metrics, refresh: () => (refreshed += 1) });
  const logged = () => lines.map((l) => JSON.parse(l) as Record<string, unknown>);
  return { handle, logged, registry: base.registry, refreshed: () => refreshed };
}

const incoming = (data: Uint8Array, subject = 'onpush.dead.restarter') => ({
  subject,
  data,
  headers: {},
  seq: 12,
  deliveryCount: 1,
});

describe('dlq-manager handler', () => {
  it('logs and counts a dead letter, publishes nothing, refreshes the gauges', async () => {
    const { handle, logged, registry, refreshed } = setup();
    expect(await handle(incoming(encode(letter)))).toEqual([]);
    expect(logged()).toEqual([
      expect.objectContaining({
        level: 'warn',
        msg: 'dead letter',
        id: 12,
        stage: 'restarter',
        reason: 'forbidden',
      }),
    ]);
    expect(await registry.metrics()).toContain(
      'onpush_dead_letters_total{stage="restarter",reason="forbidden",service="dlq-manager-test"} 1',
    );
    expect(refreshed()).toBe(1);
  });

  it('acks an invalid entry (it stays in the stream), logging and counting it as invalid_entry', async () => {
    const { handle, logged, registry } = setup();
    expect(await handle(incoming(new TextEncoder().encode('not json')))).toEqual([]);
    expect(logged()).toEqual([
      expect.objectContaining({
        level: 'error',
        msg: 'invalid dead letter kept in the DLQ',
        id: 12,
      }),
    ]);
    expect(await registry.metrics()).toContain(
      'onpush_dead_letters_total{stage="restarter",reason="invalid_entry",service="dlq-manager-test"} 1',
    );
  });
});
