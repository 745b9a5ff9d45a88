import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '@onpush/config';
import { kubeconfigFile, resolverSchema } from './config.js';

describe('resolver config', () => {
  it('has defaults for everything', () => {
    const config = loadConfig(resolverSchema, {});
    expect(config.KUBECONFIG).toBeUndefined();
    expect(config).toMatchObject({
      PORT: 8083,
      ONPUSH_NAMESPACE: 'onpush',
      ONPUSH_SELECT: 'labelled',
      SNAPSHOT_DEBOUNCE: 2_000,
      REBUILD_MIN_INTERVAL: 5_000,
    });
  });

  it('reads durations, the selection and the kubeconfig path', () => {
    const config = loadConfig(resolverSchema, {
      ONPUSH_SELECT: 'all',
      SNAPSHOT_DEBOUNCE: '500ms',
      REBUILD_MIN_INTERVAL: '1m',
      KUBECONFIG: '/etc/kube/config',
    });
    expect(config).toMatchObject({
      ONPUSH_SELECT: 'all',
      SNAPSHOT_DEBOUNCE: 500,
      REBUILD_MIN_INTERVAL: 60_000,
    });
    expect(kubeconfigFile(config.KUBECONFIG)).toBe('/etc/kube/config');
    expect(kubeconfigFile('/a:/b')).toBeUndefined();
  });

  it('names every bad variable at once', () => {
    const error = (() => {
      try {
        return loadConfig(resolverSchema, {
          ONPUSH_SELECT: 'some',
          ONPUSH_NAMESPACE: 'Not_A_Namespace',
          SNAPSHOT_DEBOUNCE: 'soon',
        });
      } catch (e) {
        return e;
      }
    })();
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as ConfigError).problems.map((p) => p.variable).sort()).toEqual([
      'ONPUSH_NAMESPACE',
      'ONPUSH_SELECT',
      'SNAPSHOT_DEBOUNCE',
    ]);
  });
});
