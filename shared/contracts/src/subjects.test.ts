import { describe, expect, it } from 'vitest';
import { HEADERS, transportHeader, transportHeaderName } from './headers.js';
import {
  DEAD_ALL,
  FATES,
  MAX_DELIVERIES_MAIN,
  OUTCOME_ALL,
  PUSHED,
  RAW_ALL,
  RESTART_ALL,
  STAGES,
  SubjectError,
  TOPOLOGY,
  deadSubject,
  maxDeliveriesAdvisory,
  outcomeSubject,
  rawSubject,
  restartSubject,
  subjectTail,
  subjectToken,
} from './subjects.js';

describe('subjects', () => {
  it('builds one subject per source, namespace, fate and stage', () => {
    expect(rawSubject('gar')).toBe('onpush.raw.gar');
    expect(restartSubject('kube-system')).toBe('onpush.restart.kube-system');
    expect(outcomeSubject('no-match')).toBe('onpush.outcome.no-match');
    expect(deadSubject('dlq-manager')).toBe('onpush.dead.dlq-manager');
    expect(subjectTail('onpush.restart.shop', 'onpush.restart')).toBe('shop');
    expect(subjectTail('onpush.pushed', 'onpush.restart')).toBeUndefined();
  });

  it('makes every fate and stage a valid token', () => {
    for (const token of [...FATES, ...STAGES]) expect(subjectToken(token)).toBe(token);
  });

  it.each(['', 'a.b', '*', '>', 'a b', '$sys', 'Shop', '-a', 'a-', 'a'.repeat(64), 'tab\t'])(
    'rejects %j as a token',
    (token) => {
      expect(() => restartSubject(token)).toThrow(SubjectError);
    },
  );

  it('reports a bad token as a non-retryable error with a type', () => {
    const error = (() => {
      try {
        return rawSubject('A.B');
      } catch (e) {
        return e;
      }
    })();
    expect(error).toMatchObject({
      name: 'SubjectError',
      type: 'invalid_subject_token',
      retryable: false,
    });
  });
});

describe('headers', () => {
  it('carries transport headers under one prefix, lower-cased', () => {
    expect(transportHeader('X-GitHub-Event')).toBe('Onpush-Transport-x-github-event');
    expect(transportHeaderName('Onpush-Transport-x-github-event')).toBe('x-github-event');
    expect(transportHeaderName(HEADERS.msgId)).toBeUndefined();
    expect(() => transportHeader('bad header:')).toThrow(SubjectError);
  });
});

describe('TOPOLOGY', () => {
  const streams = Object.values(TOPOLOGY.streams);
  const consumers = Object.values(TOPOLOGY.consumers);

  it('routes every subject to exactly one stream', () => {
    const subjects = streams.flatMap((stream) => stream.subjects);
    expect(subjects.sort()).toEqual(
      [DEAD_ALL, OUTCOME_ALL, PUSHED, RAW_ALL, RESTART_ALL, MAX_DELIVERIES_MAIN].sort(),
    );
  });

  it('keeps every stream on file with a duplicate window of at least 2 minutes', () => {
    for (const stream of streams) {
      expect(stream.storage).toBe('file');
      expect(stream.duplicateWindowMs).toBeGreaterThanOrEqual(120_000);
      expect(stream.duplicateWindowMs).toBeLessThanOrEqual(stream.maxAgeMs);
    }
    expect(TOPOLOGY.streams.main.maxAgeMs).toBe(7 * 24 * 3_600_000);
  });

  it('never discards a new dead letter silently', () => {
    const dlq = TOPOLOGY.streams.dlq;
    expect(dlq).toMatchObject({
      name: 'ONPUSH_DLQ',
      discard: 'new',
      maxMsgs: -1,
      retention: 'limits',
    });
    expect(dlq.maxAgeMs).toBeGreaterThanOrEqual(TOPOLOGY.streams.outcomes.maxAgeMs);
  });

  it('declares one durable pull consumer per consuming stage, plus the advisory consumer', () => {
    expect(consumers.map((c) => c.durable).sort()).toEqual([
      'dlq-manager',
      'dlq-manager-advisories',
      'parser',
      'resolver',
      'restarter',
    ]);
    expect(TOPOLOGY.consumers['dlq-manager-advisories']).toMatchObject({
      stage: 'dlq-manager',
      stream: 'ONPUSH_ADVISORIES',
      filterSubject: '$JS.EVENT.ADVISORY.CONSUMER.MAX_DELIVERIES.ONPUSH.*',
    });
    expect(TOPOLOGY.consumers['dlq-manager']).toMatchObject({
      stream: 'ONPUSH_DLQ',
      filterSubject: DEAD_ALL,
    });
  });

  it.each(Object.values(TOPOLOGY.consumers))(
    '$durable has settings JetStream accepts',
    (consumer) => {
      const stream = streams.find((s) => s.name === consumer.stream);
      expect(stream?.subjects).toContain(consumer.filterSubject);
      expect(consumer.ackPolicy).toBe('explicit');
      expect(consumer.maxAckPending).toBeGreaterThan(0);
      expect(consumer.maxDeliver).toBeGreaterThan(1);
      expect(consumer.ackWaitMs).toBeGreaterThanOrEqual(10_000);
      // no backoff: with one, JetStream stretches every NAK delay after the first (subjects.ts)
      expect(consumer.backoffMs).toEqual([]);
    },
  );

  it('captures the max-deliveries advisories of the work stream durably', () => {
    expect(TOPOLOGY.streams.advisories).toMatchObject({
      name: 'ONPUSH_ADVISORIES',
      subjects: [MAX_DELIVERIES_MAIN],
      storage: 'file',
    });
  });

  it('names the max-deliveries advisory the dlq-manager listens to', () => {
    expect(maxDeliveriesAdvisory('ONPUSH', 'parser')).toBe(
      '$JS.EVENT.ADVISORY.CONSUMER.MAX_DELIVERIES.ONPUSH.parser',
    );
  });
});
