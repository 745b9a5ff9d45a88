import { describe, expect, it } from 'vitest';
import { KINDS, compactViewOf, viewOf } from './kinds.js';

const D = `sha256:${'a'.repeat(64)}`;

const deployment = {
  metadata: {
    name: 'web',
    namespace: 'shop',
    resourceVersion: '99',
    labels: { 'onpush.dev/enabled': 'true', team: 'web' },
    annotations: { 'onpush.dev/policy': 'semver:^1', 'deployment.kubernetes.io/revision': '3' },
  },
  spec: {
    template: {
      metadata: {
        annotations: {
          'kubectl.kubernetes.io/restartedAt': '2026-11-26T10:00:00Z',
          'onpush.dev/digest': D,
          'checksum/config': 'abc',
        },
      },
      spec: {
        initContainers: [{ name: 'migrate', image: 'example.com/web:1.0' }],
        containers: [{ name: 'app', image: 'example.com/web:1.0' }],
      },
    },
  },
};

describe('workload views', () => {
  it('reads marks from the pod template and settings from the object (built-in kinds)', () => {
    expect(viewOf(KINDS.Deployment, deployment)).toEqual({
      resourceVersion: '99',
      marks: deployment.spec.template.metadata.annotations,
      settings: deployment.metadata.annotations,
      containers: [
        { name: 'migrate', image: 'example.com/web:1.0', init: true },
        { name: 'app', image: 'example.com/web:1.0', init: false },
      ],
      labels: { 'onpush.dev/enabled': 'true', team: 'web' },
    });
  });

  it('keeps only onpush marks and onpush.dev settings in the compact view', () => {
    expect(compactViewOf(KINDS.Deployment, deployment)).toMatchObject({
      marks: {
        'kubectl.kubernetes.io/restartedAt': '2026-11-26T10:00:00Z',
        'onpush.dev/digest': D,
      },
      settings: { 'onpush.dev/policy': 'semver:^1' },
      labels: { 'onpush.dev/enabled': 'true', team: 'web' },
    });
  });

  it("reads an Argo Rollout's marks from its own metadata", () => {
    const rollout = {
      ...deployment,
      metadata: { ...deployment.metadata, annotations: { 'onpush.dev/digest': D } },
    };
    expect(compactViewOf(KINDS.Rollout, rollout)?.marks).toEqual({ 'onpush.dev/digest': D });
  });

  it('has no compact view without a resourceVersion (nothing to make a PATCH conditional on)', () => {
    expect(compactViewOf(KINDS.Deployment, { metadata: { name: 'web' } })).toBeUndefined();
  });
});
