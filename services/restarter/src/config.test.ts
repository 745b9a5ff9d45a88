import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '@onpush/config';
import { restarterSchema } from './config.js';

describe('restarter config', () => {
  it('has defaults for everything', () => {
    expect(loadConfig(restarterSchema, {})).toMatchObject({
      PORT: 8084,
      KUBE_QPS: 50,
      KUBE_BURST: 100,
      MAX_IN_FLIGHT: 64,
    });
    expect(loadConfig(restarterSchema, {}).KUBECONFIG).toBeUndefined();
  });

  it('reads a kubeconfig path and a fractional rate', () => {
    const config = loadConfig(restarterSchema, {
      KUBECONFIG: '/etc/kube/config',
      KUBE_QPS: '0.5',
      KUBE_BURST: '1',
    });
    expect(config).toMatchObject({ KUBECONFIG: '/etc/kube/config', KUBE_QPS: 0.5, KUBE_BURST: 1 });
  });

  it('names every bad variable at once', () => {
    const error = (() => {
      try {
        return loadConfig(restarterSchema, {
          KUBE_QPS: '0',
          KUBE_BURST: 'many',
          MAX_IN_FLIGHT: '0',
        });
      } catch (e) {
        return e;
      }
    })();
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as ConfigError).problems.map((p) => p.variable).sort()).toEqual([
      'KUBE_BURST',
      'KUBE_QPS',
      'MAX_IN_FLIGHT',
    ]);
  });
});
