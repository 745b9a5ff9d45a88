import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { auditedDeploymentWrites, countPatches } from './kube-audit.js';

const dir = mkdtempSync(join(tmpdir(), 'onpush-audit-log-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** One audit event line, as kube-apiserver's log backend writes it (JSON lines). */
function event(
  verb: string,
  name: string,
  code: number,
  extra: Record<string, unknown> = {},
): string {
  return JSON.stringify({
    kind: 'Event',
    apiVersion: 'audit.k8s.io/v1',
    level: 'Request',
    auditID: `id-${name}-${code}-${verb}`,
    stage: 'ResponseComplete',
    verb,
    user: { username: 'system:serviceaccount:onpush:restarter' },
    objectRef: { resource: 'deployments', namespace: 'shop', name, apiGroup: 'apps' },
    responseStatus: { code },
    requestObject: {
      spec: { template: { metadata: { annotations: { 'onpush.dev/digest': `sha256:${name}` } } } },
    },
    requestReceivedTimestamp: '2026-01-01T00:00:00.000000Z',
    ...extra,
  });
}

describe('the kube-apiserver audit log', () => {
  const log = join(dir, 'audit.log');
  writeFileSync(
    log,
    [
      event('patch', 'web', 200),
      event('patch', 'web', 409),
      event('patch', 'web', 200),
      event('update', 'api', 200),
      event('patch', 'api', 200, { stage: 'RequestReceived' }),
      event('patch', 'api', 200, {
        objectRef: {
          resource: 'deployments',
          subresource: 'status',
          namespace: 'shop',
          name: 'api',
        },
      }),
      event('patch', 'cm', 200, {
        objectRef: { resource: 'configmaps', namespace: 'shop', name: 'cm' },
      }),
      '{"kind":"Event","stage":"Respo', // a line still being written
    ].join('\n'),
  );

  it('reads the completed writes to Deployments, with the pod template annotations sent', () => {
    const writes = auditedDeploymentWrites(log);
    expect(writes.map((w) => [w.verb, w.name, w.code])).toEqual([
      ['patch', 'web', 200],
      ['patch', 'web', 409],
      ['patch', 'web', 200],
      ['update', 'api', 200],
    ]);
    expect(writes[0]?.templateAnnotations).toEqual({ 'onpush.dev/digest': 'sha256:web' });
    expect(writes[0]?.user).toBe('system:serviceaccount:onpush:restarter');
  });

  it('counts applied PATCHes per Deployment, or every PATCH when asked', () => {
    expect(countPatches(log)).toEqual(new Map([['shop/web', 2]]));
    expect(countPatches(log, { appliedOnly: false })).toEqual(new Map([['shop/web', 3]]));
    expect(countPatches(log, { since: '2027-01-01T00:00:00Z' })).toEqual(new Map());
  });

  it('is empty before the API server wrote anything', () => {
    expect(auditedDeploymentWrites(join(dir, 'missing.log'))).toEqual([]);
  });
});
