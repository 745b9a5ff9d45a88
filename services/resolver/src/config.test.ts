import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '@onpush/config';
import { kubeconfigFile, resolverSchema, wavePlan } from './config.js';

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
      DUPLICATE_WINDOW: 10_000,
    });
  });

  it('reads wave names and the wave of each namespace, named or numbered', () => {
    const config = loadConfig(resolverSchema, {
      WAVES: 'staging, canary,prod',
      WAVE_NAMESPACES: 'shop-staging=staging, shop=prod,batch=5',
    });
    expect(wavePlan(config)).toEqual({
      names: ['staging', 'canary', 'prod'],
      namespaces: { 'shop-staging': 1, shop: 3, batch: 5 },
    });
    expect(wavePlan(loadConfig(resolverSchema, {}))).toEqual({ names: [], namespaces: {} });
    const wrong = (env: Record<string, string>) => {
      try {
        loadConfig(resolverSchema, env);
      } catch (error) {
        // (without the value echoed back)
        return (error as ConfigError).problems.map(
          (p) => `${p.variable}: ${p.message.replace(/ \(got .*\)$/, '')}`,
        );
      }
      return [];
    };
    expect(wrong({ WAVE_NAMESPACES: 'shop=prod' })).toEqual([
      'WAVE_NAMESPACES: shop=prod: the wave is not a number',
    ]);
    expect(wrong({ WAVES: 'a,b', WAVE_NAMESPACES: 'shop=c' })).toEqual([
      'WAVE_NAMESPACES: shop=c: the wave is not a number or one of WAVES (a, b)',
    ]);
    expect(wrong({ WAVES: 'prod,prod' })).toEqual(['WAVES: names a wave twice']);
    expect(wrong({ WAVES: 'Prod' })[0]).toMatch(/^WAVES: .*wave name/);
    expect(wrong({ WAVE_NAMESPACES: 'shop' })[0]).toMatch(/^WAVE_NAMESPACES: "shop" is not/);
  });

  it('reads durations, the selection and the kubeconfig path', () => {
    const config = loadConfig(resolverSchema, {
      ONPUSH_SELECT: 'all',
      SNAPSHOT_DEBOUNCE: '500ms',
      REBUILD_MIN_INTERVAL: '1m',
      DUPLICATE_WINDOW: '0',
      KUBECONFIG: '/etc/kube/config',
    });
    expect(config).toMatchObject({
      ONPUSH_SELECT: 'all',
      SNAPSHOT_DEBOUNCE: 500,
      REBUILD_MIN_INTERVAL: 60_000,
      DUPLICATE_WINDOW: 0,
    });
    expect(kubeconfigFile(config.KUBECONFIG)).toBe('/etc/kube/config');
    expect(kubeconfigFile('/a:/b')).toBeUndefined();
  });

  it('reads the scope: opt-in, namespaces, selector, kinds', () => {
    const defaults = loadConfig(resolverSchema, {});
    expect(defaults).toMatchObject({
      ONPUSH_OPT_IN: 'label',
      ONPUSH_NAMESPACES: [],
      ONPUSH_EXCLUDE_NAMESPACES: [],
      ONPUSH_KINDS: ['Deployment', 'StatefulSet', 'DaemonSet', 'CronJob', 'Rollout'],
    });
    expect(defaults.ONPUSH_SELECTOR).toBeUndefined();
    const config = loadConfig(resolverSchema, {
      ONPUSH_OPT_IN: 'annotation',
      ONPUSH_NAMESPACES: 'shop, blog',
      ONPUSH_EXCLUDE_NAMESPACES: 'kube-system',
      ONPUSH_SELECTOR: 'team=web,tier notin (batch)',
      ONPUSH_KINDS: 'Deployment,Rollout',
    });
    expect(config).toMatchObject({
      ONPUSH_OPT_IN: 'annotation',
      ONPUSH_NAMESPACES: ['shop', 'blog'],
      ONPUSH_EXCLUDE_NAMESPACES: ['kube-system'],
      ONPUSH_SELECTOR: 'team=web,tier notin (batch)',
      ONPUSH_KINDS: ['Deployment', 'Rollout'],
    });
    const problems = (() => {
      try {
        return loadConfig(resolverSchema, {
          ONPUSH_NAMESPACES: 'Shop',
          ONPUSH_KINDS: 'Job',
          ONPUSH_SELECTOR: 'a;b',
        });
      } catch (e) {
        return (e as ConfigError).problems.map((p) => p.variable).sort();
      }
    })();
    expect(problems).toEqual(['ONPUSH_KINDS', 'ONPUSH_NAMESPACES', 'ONPUSH_SELECTOR']);
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
