import { describe, expect, it } from 'vitest';
import type { ObservedWorkload, WorkloadQuery } from '@onpush/contracts';
import { answerWorkloadQuery } from './workload-query.js';

const seen: ObservedWorkload = {
  resourceVersion: '42',
  marks: { 'onpush.dev/digest': `sha256:${'a'.repeat(64)}` },
  settings: { 'onpush.dev/policy': 'restart' },
  containers: [{ name: 'web', image: 'ghcr.io/acme/web:1.4', init: false }],
  labels: { 'onpush.dev/enabled': 'true' },
};

const ask = (value: unknown) => new TextEncoder().encode(JSON.stringify(value));

describe('answerWorkloadQuery', () => {
  const asked: WorkloadQuery[] = [];
  const view = (ref: WorkloadQuery) => {
    asked.push(ref);
    return ref.name === 'web' ? seen : undefined;
  };

  it('answers with the view the watch holds, or null for a workload it does not watch', () => {
    const web = { kind: 'Deployment', namespace: 'shop', name: 'web' } as const;
    expect(answerWorkloadQuery(ask(web), view)).toEqual({ v: 1, workload: seen });
    expect(answerWorkloadQuery(ask({ ...web, name: 'other' }), view)).toEqual({
      v: 1,
      workload: null,
    });
    expect(asked).toEqual([web, { ...web, name: 'other' }]);
  });

  it('refuses a question that names no workload, without asking the watch', () => {
    asked.length = 0;
    for (const bad of [
      new TextEncoder().encode('{not json'),
      ask({ kind: 'Pod', namespace: 'shop', name: 'web' }),
      ask({ kind: 'Deployment', namespace: 'Shop!', name: 'web' }),
    ]) {
      const reply = answerWorkloadQuery(bad, view);
      expect('error' in reply && reply.error, String(bad)).toBeTruthy();
    }
    expect(asked).toEqual([]);
  });
});
