import { describe, expect, it } from 'vitest';
import type { Fate, Outcome } from '@onpush/contracts';
import { UnfinishedRollouts } from './recover.js';

const at = (s: number) => new Date(Date.UTC(2026, 11, 7, 10, 0, s)).toISOString();
const outcome = (fate: Fate, eventId: string, name: string, s: number): Outcome => ({
  v: 1,
  eventId,
  fate,
  stage: 'restarter',
  workload: { kind: 'Deployment', namespace: 'shop', name },
  image: 'ghcr.io/acme/web',
  tag: '1.2',
  at: at(s),
});

describe('rollouts left unfinished by a restarter that stopped', () => {
  it('are the restarts with no rollout outcome yet, the latest per workload', () => {
    const fold = new UnfinishedRollouts();
    for (const o of [
      outcome('restarted', 'e1', 'web', 1),
      outcome('restarted', 'e1', 'api', 1),
      outcome('restarted', 'e2', 'db', 2),
      outcome('rollout-completed', 'e1', 'web', 5),
      // api restarted again by a later push: its earlier rollout is not followed
      outcome('restarted', 'e3', 'api', 6),
      // an outcome of the earlier push does not end the later one's rollout
      outcome('rollout-failed', 'e1', 'api', 7),
    ]) {
      fold.add({ outcome: o, traceparent: `tp-${o.eventId}` });
    }
    expect(fold.rollouts).toEqual([
      {
        workload: { kind: 'Deployment', namespace: 'shop', name: 'api' },
        eventId: 'e3',
        image: 'ghcr.io/acme/web',
        tag: '1.2',
        digest: undefined,
        generation: 0,
        respondedAt: new Date(at(6)),
        traceparent: 'tp-e3',
      },
      expect.objectContaining({
        eventId: 'e2',
        workload: { kind: 'Deployment', namespace: 'shop', name: 'db' },
      }) as object,
    ]);
  });
});
