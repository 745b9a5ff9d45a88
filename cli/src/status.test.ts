import { describe, expect, it } from 'vitest';
import { leafState, serviceUrls, type StatusReport } from './status.js';
import { formatStatus, table } from './status-format.js';

const report: StatusReport = {
  at: '2026-11-26T10:00:00.000Z',
  services: [
    { service: 'ingest', url: 'http://127.0.0.1:8081', ready: true, state: 'running' },
    {
      service: 'parser',
      url: 'http://127.0.0.1:8082',
      ready: false,
      state: 'unreachable (fetch failed)',
    },
  ],
  consumers: [
    { consumer: 'parser', stream: 'ONPUSH', pending: 1200, ackPending: 64, redelivered: 3 },
    { consumer: 'dlq-manager', stream: 'ONPUSH_DLQ', pending: 0, ackPending: 0, redelivered: 0 },
  ],
  dlq: { depth: 2, oldestAgeSeconds: 5_400 },
  index: { workloads: 41, images: 17 },
  fates: {
    windowSeconds: 60,
    counts: {
      ignored: 1,
      'no-match': 0,
      dispatched: 3,
      restarted: 5,
      unchanged: 0,
      gone: 0,
      dead: 1,
      'would-restart': 0,
      refused: 1,
      halted: 0,
      rejected: 0,
      expired: 0,
      'rollout-completed': 2,
      'rollout-failed': 0,
      'rolled-back': 0,
    },
  },
  problems: [],
};

describe('onpush status', () => {
  it('prints one table per question', () => {
    expect(formatStatus(report).split('\n')).toEqual([
      'SERVICE  READY  STATE                       URL',
      'ingest   yes    running                     http://127.0.0.1:8081',
      'parser   NO     unreachable (fetch failed)  http://127.0.0.1:8082',
      '',
      'CONSUMER     STREAM      PENDING  ACK PENDING  REDELIVERED',
      'parser       ONPUSH         1200           64            3',
      'dlq-manager  ONPUSH_DLQ        0            0            0',
      '',
      'DLQ               2 dead letters, oldest 90m',
      'INDEX             41 workloads, 17 images',
      'FATES (last 60s)  ignored 1, no-match 0, dispatched 3, restarted 5, unchanged 0, gone 0, dead 1, would-restart 0, refused 1, halted 0, rejected 0, expired 0, rollout-completed 2, rollout-failed 0, rolled-back 0',
    ]);
  });

  it('names what it could not read', () => {
    const text = formatStatus({
      ...report,
      consumers: undefined,
      dlq: undefined,
      problems: ['NATS nats://x:4222: connection refused'],
    });
    expect(text).not.toContain('CONSUMER');
    expect(text.split('\n').at(-1)).toBe('problem: NATS nats://x:4222: connection refused');
  });

  it('shows the innermost lifecycle state', () => {
    expect(leafState({ active: 'running' })).toBe('running');
    expect(leafState('waiting')).toBe('waiting');
    expect(leafState(undefined)).toBe('?');
  });

  it('aligns numbers right and text left', () => {
    expect(
      table([
        ['A', 'N'],
        ['xyz', '7'],
        ['q', '10'],
      ]),
    ).toEqual(['A     N', 'xyz   7', 'q    10']);
  });

  it('finds each service at ONPUSH_<SERVICE>_URL, else on its default local port', () => {
    const urls = serviceUrls({
      ONPUSH_DLQ_MANAGER_URL: 'http://dlq:9000/',
      ONPUSH_PARSER_URL: 'http://p',
    });
    expect(urls).toEqual({
      ingest: 'http://127.0.0.1:8081',
      parser: 'http://p',
      resolver: 'http://127.0.0.1:8083',
      restarter: 'http://127.0.0.1:8084',
      'dlq-manager': 'http://dlq:9000',
    });
  });
});
