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

  it('reads a maturity delay for all and per namespace, naming what it cannot read', () => {
    expect(loadConfig(restarterSchema, {})).toMatchObject({ DELAY: 0, DELAY_NAMESPACES: {} });
    expect(
      loadConfig(restarterSchema, { DELAY: '5m', DELAY_NAMESPACES: 'prod=1h, staging=0s' }),
    ).toMatchObject({ DELAY: 300_000, DELAY_NAMESPACES: { prod: 3_600_000, staging: 0 } });
    const problems = (() => {
      try {
        loadConfig(restarterSchema, { DELAY_NAMESPACES: 'prod=soon', DELAY: '8d' });
        return [];
      } catch (error) {
        return (error as ConfigError).problems.map((p) => p.variable).sort();
      }
    })();
    expect(problems).toEqual(['DELAY', 'DELAY_NAMESPACES']);
  });

  it('reads approval, rollback and soak defaults for all and per namespace', () => {
    expect(loadConfig(restarterSchema, {})).toMatchObject({
      APPROVAL: 'none',
      APPROVAL_NAMESPACES: {},
      ROLLBACK: 'none',
      ROLLBACK_NAMESPACES: {},
      SOAK: 0,
      SOAK_NAMESPACES: {},
    });
    expect(
      loadConfig(restarterSchema, {
        APPROVAL: 'required',
        APPROVAL_NAMESPACES: 'dev=none',
        ROLLBACK_NAMESPACES: 'prod=auto, dev=none',
        SOAK: '1m',
        SOAK_NAMESPACES: 'prod=10m',
      }),
    ).toMatchObject({
      APPROVAL: 'required',
      APPROVAL_NAMESPACES: { dev: false },
      ROLLBACK_NAMESPACES: { prod: true, dev: false },
      SOAK: 60_000,
      SOAK_NAMESPACES: { prod: 600_000 },
    });
    const problems = (() => {
      try {
        loadConfig(restarterSchema, {
          APPROVAL: 'yes',
          APPROVAL_NAMESPACES: 'prod=auto',
          ROLLBACK_NAMESPACES: 'prod=required',
          SOAK_NAMESPACES: 'prod=long',
        });
        return [];
      } catch (error) {
        return (error as ConfigError).problems.map((p) => p.variable).sort();
      }
    })();
    expect(problems).toEqual([
      'APPROVAL',
      'APPROVAL_NAMESPACES',
      'ROLLBACK_NAMESPACES',
      'SOAK_NAMESPACES',
    ]);
  });

  it('reads a kubeconfig path and a fractional rate', () => {
    const config = loadConfig(restarterSchema, {
      KUBECONFIG: '/etc/kube/config',
      KUBE_QPS: '0.5',
      KUBE_BURST: '1',
    });
    expect(config).toMatchObject({ KUBECONFIG: '/etc/kube/config', KUBE_QPS: 0.5, KUBE_BURST: 1 });
  });

  it('reads dry run, rollout tracking and notification routes; refuses a route to no target', () => {
    expect(loadConfig(restarterSchema, {})).toMatchObject({
      ONPUSH_DRY_RUN: false,
      ROLLOUT_TRACKING: true,
      ROLLOUT_TIMEOUT: 600_000,
      NOTIFY_TARGETS: [],
    });
    const config = loadConfig(restarterSchema, {
      ONPUSH_DRY_RUN: 'true',
      ROLLOUT_TIMEOUT: '2m',
      NOTIFY_TARGETS: 'ops=slack:https://hooks.slack.com/services/T/B/X',
      NOTIFY_NAMESPACES: 'shop=ops',
    });
    expect(config).toMatchObject({ ONPUSH_DRY_RUN: true, ROLLOUT_TIMEOUT: 120_000 });
    const error = (() => {
      try {
        return loadConfig(restarterSchema, { NOTIFY_DEFAULT: 'nobody' });
      } catch (e) {
        return e as ConfigError;
      }
    })();
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as ConfigError).problems).toEqual([
      {
        variable: 'NOTIFY_DEFAULT',
        message: 'no target named nobody in NOTIFY_TARGETS (got "nobody")',
      },
    ]);
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

describe('restarter config: the scope it checks every request against', () => {
  it("reads the resolver's scope variables, and names a bad selector", () => {
    expect(loadConfig(restarterSchema, {})).toMatchObject({
      ONPUSH_SELECT: 'labelled',
      ONPUSH_OPT_IN: 'label',
      ONPUSH_NAMESPACES: [],
      ONPUSH_EXCLUDE_NAMESPACES: [],
    });
    expect(
      loadConfig(restarterSchema, {
        ONPUSH_NAMESPACES: 'shop,blog',
        ONPUSH_EXCLUDE_NAMESPACES: 'kube-system',
        ONPUSH_SELECTOR: 'team in (web)',
      }),
    ).toMatchObject({
      ONPUSH_NAMESPACES: ['shop', 'blog'],
      ONPUSH_EXCLUDE_NAMESPACES: ['kube-system'],
      ONPUSH_SELECTOR: 'team in (web)',
    });
    expect(() => loadConfig(restarterSchema, { ONPUSH_SELECTOR: 'team in web' })).toThrow(
      /ONPUSH_SELECTOR/,
    );
  });
});
