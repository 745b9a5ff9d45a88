import { describe, expect, it, vi } from 'vitest';
import { createLogger } from '@onpush/telemetry';
import { activeKinds } from './active-kinds.js';
import {
  fieldSelector,
  labelSelector,
  namespaceInScope,
  optedIn,
  scopeOf,
  watchedNamespaces,
  type Scope,
} from '@onpush/kube';
import { workloadOf } from './sources.js';

const log = createLogger({ test: 'selection' }, { write: () => undefined });
const base: Scope = { select: 'labelled', optIn: 'label', namespaces: [], exclude: [] };

function object(
  namespace: string,
  labels: Record<string, string> = {},
  annotations: Record<string, string> = {},
) {
  return {
    metadata: { namespace, name: 'web', labels, annotations },
    spec: {
      template: {
        spec: {
          initContainers: [{ name: 'proxy', image: 'envoy:1' }],
          containers: [
            { name: 'app', image: 'ghcr.io/acme/web:1.0' },
            { name: 'debug', image: 'busybox' },
          ],
        },
      },
    },
  };
}

describe('selection', () => {
  it('asks the API server for the opt-in label and the operator selector', () => {
    expect(labelSelector(base)).toBe('onpush.dev/enabled=true');
    expect(labelSelector({ ...base, selector: 'team=web' })).toBe(
      'onpush.dev/enabled=true,team=web',
    );
    expect(labelSelector({ ...base, optIn: 'annotation' })).toBeUndefined();
    expect(labelSelector({ ...base, select: 'all', selector: 'tier!=batch' })).toBe('tier!=batch');
    expect(labelSelector('all')).toBeUndefined();
  });

  it('watches each allowed namespace, or all but the excluded ones', () => {
    expect(watchedNamespaces({ ...base, namespaces: ['shop', 'blog'] })).toEqual(['shop', 'blog']);
    expect(watchedNamespaces(base)).toEqual([undefined]);
    expect(fieldSelector({ ...base, exclude: ['kube-system', 'ops'] })).toBe(
      'metadata.namespace!=kube-system,metadata.namespace!=ops',
    );
    expect(fieldSelector({ ...base, namespaces: ['shop'], exclude: ['ops'] })).toBeUndefined();
    expect(namespaceInScope({ ...base, namespaces: ['shop'] }, 'blog')).toBe(false);
    expect(namespaceInScope({ ...base, namespaces: ['shop'], exclude: ['shop'] }, 'shop')).toBe(
      false,
    );
    expect(namespaceInScope({ ...base, exclude: ['ops'] }, 'shop')).toBe(true);
  });

  it('opts in by label, by annotation, or takes all', () => {
    const meta = { labels: { 'onpush.dev/enabled': 'true' }, annotations: {} };
    expect(optedIn(base, meta)).toBe(true);
    expect(optedIn({ ...base, optIn: 'annotation' }, meta)).toBe(false);
    expect(
      optedIn({ ...base, optIn: 'annotation' }, { annotations: { 'onpush.dev/enabled': 'true' } }),
    ).toBe(true);
    expect(optedIn(scopeOf('all'), undefined)).toBe(true);
  });

  it('indexes the counted containers with the policy, and nothing out of scope', () => {
    const annotations = {
      'onpush.dev/enabled': 'true',
      'onpush.dev/containers': 'app,proxy',
      'onpush.dev/policy': 'semver:^1',
    };
    const scope: Scope = { ...base, optIn: 'annotation', exclude: ['ops'] };
    expect(workloadOf('StatefulSet', scope, object('shop', {}, annotations))).toEqual({
      kind: 'StatefulSet',
      namespace: 'shop',
      name: 'web',
      containers: [
        { name: 'proxy', image: 'envoy:1' },
        { name: 'app', image: 'ghcr.io/acme/web:1.0' },
      ],
      policy: 'semver:^1',
    });
    expect(workloadOf('StatefulSet', scope, object('ops', {}, annotations))).toBeUndefined();
    expect(workloadOf('StatefulSet', scope, object('shop'))).toBeUndefined();
  });

  it("gives each workload its own wave, a declared name, or its namespace's wave", () => {
    const waves = { names: ['staging', 'prod'], namespaces: { shop: 2 } };
    const optedIn = (namespace: string, annotations: Record<string, string> = {}) =>
      workloadOf(
        'Deployment',
        base,
        object(namespace, { 'onpush.dev/enabled': 'true' }, annotations),
        waves,
      )?.wave;
    expect(optedIn('shop')).toBe(2);
    expect(optedIn('shop', { 'onpush.dev/wave': 'staging' })).toBe(1);
    expect(optedIn('shop', { 'onpush.dev/wave': '4' })).toBe(4);
    expect(optedIn('blog')).toBeUndefined();
  });
});

describe('active kinds', () => {
  it('watches Rollouts only when the cluster serves them', async () => {
    const all = ['Deployment', 'Rollout'] as const;
    expect(await activeKinds(all, () => Promise.resolve(true), log)).toEqual(all);
    expect(await activeKinds(all, () => Promise.resolve(false), log)).toEqual(['Deployment']);
    const never = vi.fn(() => Promise.resolve(true));
    expect(await activeKinds(['CronJob'], never, log)).toEqual(['CronJob']);
    expect(never).not.toHaveBeenCalled();
    await expect(activeKinds(all, () => Promise.reject(new Error('down')), log)).rejects.toThrow(
      'down',
    );
  });
});
