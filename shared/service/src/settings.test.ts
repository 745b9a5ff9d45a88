import { describe, expect, it } from 'vitest';
import { loadConfig } from '@onpush/config';
import { createLogger, createMetrics } from '@onpush/telemetry';
import { baseServiceSchema } from './config.js';
import { stageSettings } from './settings.js';

const log = createLogger({ service: 'test' }, { level: 'error' });
const metrics = createMetrics('test');
const settingsOf = (env: Record<string, string>) =>
  stageSettings(loadConfig(baseServiceSchema, { PORT: '0', ...env }), log, metrics);

describe('stageSettings', () => {
  it('takes the defaults of the base configuration, and no credentials unless set', () => {
    const settings = settingsOf({});
    expect(settings).toEqual({
      natsUrl: 'nats://127.0.0.1:4222',
      maxInFlight: 64,
      retryScheduleMs: [250, 1_000, 5_000, 15_000, 30_000],
      tuning: { maxDeliver: undefined, backoffMs: undefined, ackWaitMs: undefined },
      log,
      metrics,
    });
    expect(settings).not.toHaveProperty('natsUser');
    expect(settings).not.toHaveProperty('natsPassword');
  });

  it('carries what the environment sets', () => {
    expect(
      settingsOf({
        NATS_URL: 'nats://nats:4222',
        NATS_USER: 'onpush',
        NATS_PASSWORD: 's3cret',
        MAX_IN_FLIGHT: '8',
        RETRY_SCHEDULE: '1s,2s',
        CONSUMER_MAX_DELIVER: '3',
        CONSUMER_ACK_WAIT: '10s',
      }),
    ).toMatchObject({
      natsUrl: 'nats://nats:4222',
      natsUser: 'onpush',
      natsPassword: 's3cret',
      maxInFlight: 8,
      retryScheduleMs: [1_000, 2_000],
      tuning: { maxDeliver: 3, ackWaitMs: 10_000 },
    });
  });

  it('takes every node of a NATS cluster in NATS_URL, and names a bad one', () => {
    expect(settingsOf({ NATS_URL: ' nats://nats-0:4222, tls://nats-1:4222 ,' }).natsUrl).toBe(
      'nats://nats-0:4222,tls://nats-1:4222',
    );
    expect(() => settingsOf({ NATS_URL: 'nats://nats-0:4222,http://nats-1' })).toThrow(
      /NATS_URL: item 2: must be a nats:\/\/ or tls:\/\/ or ws:\/\/ or wss:\/\/ URL/,
    );
    expect(() => settingsOf({ NATS_URL: ' , ' })).toThrow(
      /NATS_URL: must name at least one server/,
    );
  });
});
