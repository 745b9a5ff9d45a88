import { describe, expect, it } from 'vitest';
import { KINDS, PatchStrategy, type KubeHttp } from '@onpush/kube';
import { kindApi, patchBody, snapshotOf } from './workloads.js';

const AT = new Date('2026-11-26T10:00:00.400Z');
const mark = { at: AT, eventId: 'evt-1', digest: `sha256:${'a'.repeat(64)}` };
const marks = {
  'kubectl.kubernetes.io/restartedAt': '2026-11-26T10:00:00Z',
  'onpush.dev/event-id': 'evt-1',
  'onpush.dev/digest': mark.digest,
};
const move = { container: 'app', init: false, from: 'api:1.2', to: 'api:1.3' };

describe('patch bodies per kind', () => {
  it('restarts a built-in kind as kubectl does, on its pod template', () => {
    expect(patchBody(KINDS.StatefulSet, { mark }, '5')).toEqual({
      metadata: { resourceVersion: '5' },
      spec: { template: { metadata: { annotations: marks } } },
    });
    expect(patchBody(KINDS.CronJob, { mark }, undefined)).toEqual({
      spec: { jobTemplate: { spec: { template: { metadata: { annotations: marks } } } } },
    });
  });

  it('moves containers by name in a strategic merge', () => {
    const init = { ...move, container: 'proxy', init: true };
    expect(patchBody(KINDS.DaemonSet, { mark, images: [move, init] }, '5')).toEqual({
      metadata: { resourceVersion: '5' },
      spec: {
        template: {
          metadata: { annotations: marks },
          spec: {
            containers: [{ name: 'app', image: 'api:1.3' }],
            initContainers: [{ name: 'proxy', image: 'api:1.3' }],
          },
        },
      },
    });
  });

  it('restarts an Argo Rollout with spec.restartAt, its marks on the object', () => {
    expect(patchBody(KINDS.Rollout, { mark }, '9')).toEqual({
      metadata: { resourceVersion: '9', annotations: marks },
      spec: { restartAt: '2026-11-26T10:00:00Z' },
    });
  });

  it('sends a Rollout its container list whole, since a merge patch replaces arrays', () => {
    const source = {
      spec: {
        template: {
          spec: {
            containers: [
              { name: 'app', image: 'api:1.2', ports: [{ containerPort: 80 }] },
              { name: 'sidecar', image: 'envoy:1' },
            ],
          },
        },
      },
    };
    expect(patchBody(KINDS.Rollout, { mark, images: [move], source }, '9')).toEqual({
      metadata: { resourceVersion: '9', annotations: marks },
      spec: {
        template: {
          spec: {
            containers: [
              { name: 'app', image: 'api:1.3', ports: [{ containerPort: 80 }] },
              { name: 'sidecar', image: 'envoy:1' },
            ],
          },
        },
      },
    });
  });
});

describe('reading a workload', () => {
  it('takes the marks from the template, or from the object for a Rollout', () => {
    const object = {
      metadata: { resourceVersion: '3', annotations: { 'onpush.dev/policy': 'pin' } },
      spec: {
        template: {
          metadata: { annotations: { a: 'b' } },
          spec: { containers: [{ name: 'c', image: 'i' }] },
        },
      },
    };
    expect(snapshotOf(KINDS.Deployment, object)).toMatchObject({
      annotations: { a: 'b' },
      settings: { 'onpush.dev/policy': 'pin' },
      containers: [{ name: 'c', image: 'i', init: false }],
      resourceVersion: '3',
    });
    expect(snapshotOf(KINDS.Rollout, object).annotations).toEqual({ 'onpush.dev/policy': 'pin' });
  });

  it('uses each kind’s path and patch type, and reads the new generation', async () => {
    const calls: string[] = [];
    const http: KubeHttp = {
      get: <T>(path: string) => {
        calls.push(`GET ${path}`);
        return Promise.resolve({ status: 200, data: {} as T });
      },
      patch: <T>(path: string, _body: unknown, type: string) => {
        calls.push(`PATCH ${path} ${type}`);
        return Promise.resolve({ status: 200, data: { metadata: { generation: 4 } } as T });
      },
      post: () => Promise.reject(new Error('no POST expected')),
      close: () => undefined,
    };
    const ref = { kind: 'Rollout', namespace: 'shop', name: 'web' } as const;
    await kindApi(KINDS.Rollout)(http).read(ref);
    const patched = await kindApi(KINDS.Rollout)(http).patch(ref, { mark }, '1');
    await kindApi(KINDS.CronJob)(http).patch({ ...ref, kind: 'CronJob' }, { mark }, '1');
    expect(patched.data.generation).toBe(4);
    expect(calls).toEqual([
      'GET /apis/argoproj.io/v1alpha1/namespaces/shop/rollouts/web',
      `PATCH /apis/argoproj.io/v1alpha1/namespaces/shop/rollouts/web?fieldManager=onpush ${PatchStrategy.MergePatch}`,
      `PATCH /apis/batch/v1/namespaces/shop/cronjobs/web?fieldManager=onpush ${PatchStrategy.StrategicMergePatch}`,
    ]);
  });
});
