import { describe, expect, it } from 'vitest';
import {
  parentEvent,
  reconcile,
  type AuditInput,
  type FateRecord,
  type FindingKind,
} from './audit.js';

const WEB = 'Deployment/shop/web';
const API = 'Deployment/shop/api';

// Sequences: raw 1-99, pushed 100-199, restart 200-299. Consumers acked everything below 1000
// unless a scenario says otherwise.
const ACKED = { ackFloor: 1_000, pending: 0, ackPending: 0 };

function input(parts: Partial<AuditInput>): AuditInput {
  return {
    raw: [],
    pushed: [],
    requests: [],
    outcomes: [],
    deadLetters: [],
    consumers: { parser: ACKED, resolver: ACKED, restarter: ACKED },
    advisoriesPending: 0,
    ...parts,
  };
}

const raw = (eventId: string, seq = 1, replayOf?: string) => ({ seq, eventId, replayOf });
const pushed = (eventId: string, seq = 100, replayOf?: string) => ({ seq, eventId, replayOf });
const request = (eventId: string, workload = WEB, seq = 200, replayOf?: string) => ({
  seq,
  eventId,
  workload,
  replayOf,
});

function fate(eventId: string, f: FateRecord['fate'], extra: Partial<FateRecord> = {}): FateRecord {
  const workload = extra.workload;
  const key =
    f === 'dead'
      ? `dead:x:ONPUSH:${extra.key ?? '0'}:outcome`
      : `${eventId}${workload ? `:${workload}` : ''}:${f}`;
  return { eventId, fate: f, stage: 'resolver', ...extra, key };
}

const dispatched = (eventId: string, requests: number) => fate(eventId, 'dispatched', { requests });
const restarted = (eventId: string, workload = WEB) => fate(eventId, 'restarted', { workload });
const deadAt = (eventId: string, seq: string, workload?: string) =>
  fate(eventId, 'dead', { key: seq, ...(workload ? { workload } : {}) });

interface Scenario {
  readonly name: string;
  readonly given: Partial<AuditInput>;
  readonly unaccounted?: readonly FindingKind[];
  readonly inFlight?: number;
}

const scenarios: readonly Scenario[] = [
  {
    name: 'an ignored event',
    given: { raw: [raw('e1')], outcomes: [fate('e1', 'ignored')] },
  },
  {
    name: 'a push dispatched to two workloads, each restarted',
    given: {
      raw: [raw('e1')],
      pushed: [pushed('e1')],
      requests: [request('e1', WEB, 200), request('e1', API, 201)],
      outcomes: [dispatched('e1', 2), restarted('e1', WEB), restarted('e1', API)],
    },
  },
  {
    name: 'an event without a fate whose delivery was acknowledged',
    given: { raw: [raw('e1')] },
    unaccounted: ['missing_fate'],
  },
  {
    name: 'an event without a fate yet, not acknowledged',
    given: { raw: [raw('e1', 5)], consumers: { parser: { ...ACKED, ackFloor: 4 } } },
    inFlight: 1,
  },
  {
    name: 'a push waiting at the resolver',
    given: {
      raw: [raw('e1')],
      pushed: [pushed('e1', 150)],
      consumers: { parser: ACKED, resolver: { ...ACKED, ackFloor: 120 } },
    },
    inFlight: 1,
  },
  {
    name: 'two different event fates',
    given: { raw: [raw('e1')], outcomes: [fate('e1', 'ignored'), deadAt('e1', '1')] },
    unaccounted: ['duplicate_fate'],
  },
  {
    name: 'one fate stored twice under one Nats-Msg-Id (after the duplicate window)',
    given: { raw: [raw('e1')], outcomes: [fate('e1', 'no-match'), fate('e1', 'no-match')] },
  },
  {
    name: 'dispatched two, but one request found',
    given: {
      raw: [raw('e1')],
      pushed: [pushed('e1')],
      requests: [request('e1')],
      outcomes: [dispatched('e1', 2), restarted('e1')],
    },
    unaccounted: ['requests_mismatch'],
  },
  {
    name: 'a restart followed by its rollout outcomes, which are no fates; a dry run',
    given: {
      raw: [raw('e1'), raw('e2')],
      pushed: [pushed('e1'), pushed('e2')],
      requests: [request('e1'), request('e2')],
      outcomes: [
        dispatched('e1', 1),
        restarted('e1'),
        fate('e1', 'rollout-failed', { workload: WEB, stage: 'restarter' }),
        fate('e1', 'rollout-completed', { workload: WEB, stage: 'restarter' }),
        dispatched('e2', 1),
        fate('e2', 'would-restart', { workload: WEB, stage: 'restarter' }),
      ],
    },
  },
  {
    name: 'a rollout outcome is not the fate of a request',
    given: {
      raw: [raw('e1')],
      requests: [request('e1')],
      outcomes: [dispatched('e1', 1), fate('e1', 'rollout-completed', { workload: WEB })],
    },
    unaccounted: ['missing_fate'],
  },
  {
    name: 'a refused request (a forged one, say) is accounted for by its fate',
    given: {
      raw: [raw('e1')],
      pushed: [pushed('e1')],
      requests: [request('e1')],
      outcomes: [
        dispatched('e1', 1),
        fate('e1', 'refused', { workload: WEB, stage: 'restarter', reason: 'not_opted_in' }),
      ],
    },
  },
  {
    name: 'a request without a fate whose message was acknowledged',
    given: {
      raw: [raw('e1')],
      requests: [request('e1')],
      outcomes: [dispatched('e1', 1)],
    },
    unaccounted: ['missing_fate'],
  },
  {
    name: 'a request waiting at the restarter',
    given: {
      raw: [raw('e1')],
      requests: [request('e1', WEB, 250)],
      outcomes: [dispatched('e1', 1)],
      consumers: { parser: ACKED, resolver: ACKED, restarter: { ...ACKED, ackFloor: 249 } },
    },
    inFlight: 1,
  },
  {
    name: 'a missing fate while max-deliveries advisories wait for the dlq-manager',
    given: { raw: [raw('e1')], advisoriesPending: 1 },
    inFlight: 1,
  },
  {
    name: 'a restart dead-lettered, replayed, then restarted',
    given: {
      raw: [raw('e1')],
      requests: [request('e1', WEB, 200), request('e1', WEB, 210, '7')],
      outcomes: [dispatched('e1', 1), deadAt('e1', '200', WEB), restarted('e1')],
      deadLetters: [{ key: 'dead:x:ONPUSH:200', id: 7, replayedAt: '2026-01-01T00:00:00Z' }],
    },
  },
  {
    name: 'a replay the DLQ record does not show yet (seen by Onpush-Replay-Of)',
    given: {
      raw: [raw('e1')],
      requests: [request('e1', WEB, 200), request('e1', WEB, 210, '7')],
      outcomes: [dispatched('e1', 1), deadAt('e1', '200', WEB), restarted('e1')],
      deadLetters: [{ key: 'dead:x:ONPUSH:200', id: 7 }],
    },
  },
  {
    name: 'dead and restarted without a replay',
    given: {
      raw: [raw('e1')],
      requests: [request('e1')],
      outcomes: [dispatched('e1', 1), deadAt('e1', '200', WEB), restarted('e1')],
      deadLetters: [{ key: 'dead:x:ONPUSH:200', id: 7 }],
    },
    unaccounted: ['duplicate_fate'],
  },
  {
    name: 'a replayed dead letter whose replay is still in flight',
    given: {
      raw: [raw('e1')],
      requests: [request('e1', WEB, 200), request('e1', WEB, 260, '7')],
      outcomes: [dispatched('e1', 1), deadAt('e1', '200', WEB)],
      deadLetters: [{ key: 'dead:x:ONPUSH:200', id: 7, replayedAt: '2026-01-01T00:00:00Z' }],
      consumers: { parser: ACKED, resolver: ACKED, restarter: { ...ACKED, ackFloor: 250 } },
    },
    inFlight: 1,
  },
  {
    name: 'a replay that failed again: the new entry is the fate',
    given: {
      raw: [raw('e1'), raw('e1', 2, '7')],
      outcomes: [deadAt('e1', '1'), deadAt('e1', '2')],
      deadLetters: [
        { key: 'dead:x:ONPUSH:1', id: 7, replayedAt: '2026-01-01T00:00:00Z' },
        { key: 'dead:x:ONPUSH:2', id: 8 },
      ],
    },
  },
  {
    name: 'a parser dead letter replayed, then dispatched and restarted',
    given: {
      raw: [raw('e1', 1), raw('e1', 2, '7')],
      pushed: [pushed('e1', 100, '7')],
      requests: [request('e1', WEB, 200, '7')],
      outcomes: [deadAt('e1', '1'), dispatched('e1', 1), restarted('e1')],
      deadLetters: [{ key: 'dead:x:ONPUSH:1', id: 7, replayedAt: '2026-01-01T00:00:00Z' }],
    },
  },
  {
    name: 'a batch split into two pushes, each with its fate',
    given: {
      raw: [raw('e1')],
      pushed: [pushed('e1#a', 100), pushed('e1#b', 101)],
      outcomes: [fate('e1#a', 'no-match'), fate('e1#b', 'no-match')],
    },
  },
  {
    name: 'a batch with one push unaccounted for',
    given: {
      raw: [raw('e1')],
      pushed: [pushed('e1#a', 100), pushed('e1#b', 101)],
      outcomes: [fate('e1#a', 'no-match')],
    },
    unaccounted: ['missing_fate'],
  },
  {
    name: 'a batch that was split and also ignored',
    given: {
      raw: [raw('e1')],
      pushed: [pushed('e1#a', 100)],
      outcomes: [fate('e1#a', 'no-match'), fate('e1', 'ignored')],
    },
    unaccounted: ['duplicate_fate'],
  },
  {
    name: 'a workload fate nobody requested',
    given: {
      raw: [raw('e1')],
      requests: [request('e1')],
      outcomes: [dispatched('e1', 1), restarted('e1'), restarted('e1', API)],
    },
    unaccounted: ['unexpected_fate'],
  },
  {
    name: 'fates of events that entered before the window are not counted',
    given: { raw: [raw('e2', 3, '9')], outcomes: [fate('e0', 'ignored')] },
  },
];

describe('reconcile', () => {
  it.each(scenarios)('$name', ({ given, unaccounted = [], inFlight = 0 }) => {
    const report = reconcile(input(given));
    expect(report.unaccounted.map((f) => f.kind)).toEqual(unaccounted);
    expect(report.inFlight).toHaveLength(inFlight);
  });

  it('counts events, pushes, requests and resolved dead letters', () => {
    const report = reconcile(
      input({
        raw: [raw('e1', 1), raw('e2', 2), raw('e2', 3, '7')],
        pushed: [pushed('e2#a', 100), pushed('e2#b', 101)],
        requests: [request('e2#a', WEB, 200), request('e2#a', API, 201)],
        outcomes: [
          fate('e1', 'ignored'),
          dispatched('e2#a', 2),
          restarted('e2#a', WEB),
          deadAt('e2#a', '201', API),
          fate('e2#b', 'no-match'),
        ],
      }),
    );
    expect(report).toMatchObject({
      events: 2,
      pushes: 3,
      requests: 2,
      accounted: { pushes: 3, requests: 2 },
      resolvedByReplay: 0,
      fates: { ignored: 1, dispatched: 1, restarted: 1, dead: 1, 'no-match': 1 },
      unaccounted: [],
    });
  });

  it('counts an ingest dead letter (no raw delivery: too large to store) as an event ending dead', () => {
    const key = 'dead:ingest:gar:9';
    const letter = { key, id: 3, ingestEvent: 'gar:9' };
    const dead = {
      key: `${key}:outcome`,
      eventId: 'gar:9',
      fate: 'dead',
      stage: 'ingest',
    } as const;
    const accounted = reconcile(input({ deadLetters: [letter], outcomes: [dead] }));
    expect(accounted).toMatchObject({ events: 1, pushes: 1, fates: { dead: 1 }, unaccounted: [] });

    // Its outcome missing (ingest stopped between the two publishes) is unaccounted for.
    const [finding] = reconcile(input({ deadLetters: [letter] })).unaccounted;
    expect(finding).toMatchObject({ kind: 'missing_fate', eventId: 'gar:9' });

    // A dead letter stored before the audit's time is no event of this window.
    const before = reconcile(input({ deadLetters: [{ key, id: 3 }], outcomes: [dead] }));
    expect(before).toMatchObject({ events: 0, unaccounted: [] });
  });

  it('names what is missing', () => {
    const [finding] = reconcile(
      input({ raw: [raw('e1')], requests: [request('e1')], outcomes: [dispatched('e1', 1)] }),
    ).unaccounted;
    expect(finding).toEqual({
      kind: 'missing_fate',
      eventId: 'e1',
      workload: WEB,
      detail: 'no fate, and its message was acknowledged',
      fates: [],
    });
  });
});

describe('parentEvent', () => {
  it('finds the event a push belongs to', () => {
    const events = new Set(['gar:1', 'hub:a#b']);
    expect(parentEvent('gar:1', events)).toBe('gar:1');
    expect(parentEvent('gar:1#repo:tag', events)).toBe('gar:1');
    expect(parentEvent('hub:a#b#c', events)).toBe('hub:a#b');
    expect(parentEvent('gar:2#x', events)).toBeUndefined();
  });
});
