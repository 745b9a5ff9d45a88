import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { z } from 'zod';
import { ConfigError, loadConfig } from '@onpush/config';
import type { Outcome } from '@onpush/contracts';
import { createLogger } from '@onpush/telemetry';
import { notifyFields, unknownTargets, type Target } from './config.js';
import { bodyFor, escapeSlack } from './formats.js';
import { notificationOf, routeOf } from './message.js';
import { createNotifier } from './notifier.js';

const schema = z.object(notifyFields);

const completed: Outcome = {
  v: 1,
  eventId: 'gar:1',
  fate: 'rollout-completed',
  stage: 'restarter',
  workload: { kind: 'Deployment', namespace: 'shop', name: 'web' },
  image: 'ghcr.io/acme/web',
  tag: '1.3',
  durationMs: 42_000,
  detail: '3 of 3 updated and available',
  at: '2026-11-26T10:00:00.000Z',
};
const dead: Outcome = {
  v: 1,
  eventId: 'gar:2',
  fate: 'dead',
  stage: 'parser',
  reason: 'invalid_json',
  at: '2026-11-26T10:00:00.000Z',
};

describe('notification config', () => {
  it('reads targets, routes and events; keeps URLs out of errors', () => {
    const config = loadConfig(schema, {
      NOTIFY_TARGETS:
        'ops=webhook:https://hooks.example.com/a?token=s3cret, shop=slack:https://hooks.slack.com/services/T/B/X',
      NOTIFY_DEFAULT: 'ops',
      NOTIFY_NAMESPACES: 'shop=shop|ops,blog=ops',
      NOTIFY_ON: 'rollout-failed,dead',
    });
    expect(config.NOTIFY_TARGETS.map((t) => `${t.name}:${t.kind}`)).toEqual([
      'ops:webhook',
      'shop:slack',
    ]);
    expect(config.NOTIFY_NAMESPACES).toEqual({ shop: ['shop', 'ops'], blog: ['ops'] });
    expect(config.NOTIFY_ON).toEqual(['rollout-failed', 'dead']);
    expect(unknownTargets({ ...config, NOTIFY_DEFAULT: ['nobody'] })).toEqual([
      { variable: 'NOTIFY_DEFAULT', message: 'no target named nobody in NOTIFY_TARGETS' },
    ]);
    expect(loadConfig(schema, { NOTIFY_ALLOWED: 'blog=releases,*=status' }).NOTIFY_ALLOWED).toEqual(
      { blog: ['releases'], '*': ['status'] },
    );
    expect(unknownTargets({ ...config, NOTIFY_ALLOWED: { blog: ['releases'] } })).toEqual([
      { variable: 'NOTIFY_ALLOWED', message: 'blog: no target named releases in NOTIFY_TARGETS' },
    ]);
    const error = (() => {
      try {
        return loadConfig(schema, { NOTIFY_TARGETS: 'ops=email:https://x.example/s3cret' });
      } catch (e) {
        return e;
      }
    })();
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as Error).message).toContain('NOTIFY_TARGETS');
    expect((error as Error).message).toContain(
      'kind must be webhook, slack, teams, discord, mattermost, cloudevents or smtp',
    );
    expect((error as Error).message).not.toContain('s3cret');
  });
});

describe('notifications', () => {
  it('say what happened, for people and for machines', () => {
    const n = notificationOf(completed)!;
    expect(n.text).toBe(
      '✅ Rollout completed: Deployment shop/web (ghcr.io/acme/web:1.3) in 42 s — 3 of 3 updated and available',
    );
    expect(bodyFor('slack', n)).toEqual({ text: n.text });
    expect(bodyFor('webhook', n)).toEqual({
      v: 1,
      type: 'rollout-completed',
      text: n.text,
      outcome: completed,
    });
    expect(notificationOf(dead)?.text).toBe('⚠️ Dead letter at parser (invalid_json): event gar:2');
    expect(notificationOf({ ...completed, fate: 'restarted' })).toBeUndefined();
    const halted: Outcome = {
      ...completed,
      fate: 'halted',
      workload: { kind: 'Deployment', namespace: 'prod', name: 'web' },
      reason: 'wave_failed',
      detail: 'wave 1: Deployment/staging/web failed its rollout (progress_deadline_exceeded: …)',
    };
    delete halted.durationMs;
    expect(notificationOf(halted)).toMatchObject({
      event: 'halted',
      namespace: 'prod',
      text: '⏸️ Not restarted, wave halted: Deployment prod/web (ghcr.io/acme/web:1.3) — wave 1: Deployment/staging/web failed its rollout (progress_deadline_exceeded: …)',
    });
  });

  it('reach Slack as literal text: its control characters &, < and > escaped', () => {
    expect(escapeSlack('a & b <!channel> <https://evil.example|click> x>y')).toBe(
      'a &amp; b &lt;!channel&gt; &lt;https://evil.example|click&gt; x&gt;y',
    );
    const hostile = notificationOf({ ...completed, detail: '<!here> see <https://x.example|me>' })!;
    expect(bodyFor('slack', hostile)).toEqual({
      text: expect.stringContaining('— &lt;!here&gt; see &lt;https://x.example|me&gt;') as unknown,
    });
    // A generic webhook gets the text as it is: JSON needs no escaping.
    expect(bodyFor('webhook', hostile)).toMatchObject({ text: hostile.text });
  });

  it('go where the workload says, else where its namespace goes, else to the default', () => {
    const routes = { shop: ['shop', 'ops'] };
    const go = (targets: string[], refused: string[] = []) => ({ targets, refused });
    expect(routeOf({ namespace: 'shop' }, ['ops'], routes, ['all'])).toEqual(go(['ops']));
    expect(routeOf({ namespace: 'shop' }, ['all'], routes, ['all'])).toEqual(go(['all']));
    expect(routeOf({ namespace: 'shop' }, ['none'], routes, ['all'])).toEqual(go([]));
    expect(routeOf({ namespace: 'shop' }, undefined, routes, ['all'])).toEqual(go(['shop', 'ops']));
    expect(routeOf({ namespace: 'blog' }, undefined, routes, ['all'])).toEqual(go(['all']));
    expect(routeOf({}, undefined, routes, ['all'])).toEqual(go(['all']));
  });

  it("never go to a target the workload's namespace may not use: another team's channel", () => {
    const routes = { shop: ['shop'], blog: ['blog'] };
    // blog's workload names shop's channel: refused, blog's own route instead.
    expect(routeOf({ namespace: 'blog' }, ['shop'], routes, ['ops'])).toEqual({
      targets: ['blog'],
      refused: ['shop'],
    });
    expect(routeOf({ namespace: 'blog' }, ['shop', 'ops'], routes, ['ops'])).toEqual({
      targets: ['ops'],
      refused: ['shop'],
    });
    // NOTIFY_ALLOWED grants more: to one namespace, or to every one with `*`.
    const allowed = { blog: ['releases'], '*': ['status'] };
    expect(routeOf({ namespace: 'blog' }, ['releases', 'status'], routes, [], allowed)).toEqual({
      targets: ['releases', 'status'],
      refused: [],
    });
    expect(routeOf({ namespace: 'shop' }, ['releases'], routes, [], allowed)).toEqual({
      targets: ['shop'],
      refused: ['releases'],
    });
  });
});

describe('notifier', () => {
  beforeEach(() => vi.useFakeTimers());
  afterEach(() => vi.useRealTimers());

  const targets: Target[] = [
    { name: 'ops', kind: 'webhook', url: 'https://hooks.example.com/ops' },
    { name: 'chat', kind: 'slack', url: 'https://hooks.example.com/chat' },
  ];

  function setUp(
    answers: (number | Error)[],
    extra: { queueSize?: number; concurrency?: number } = {},
  ) {
    const calls: { url: string; body: unknown }[] = [];
    const counted: string[] = [];
    const warnings: Record<string, unknown>[] = [];
    const captured = createLogger(
      { test: 'notify' },
      {
        write: (line: string) => {
          const record = JSON.parse(line) as Record<string, unknown>;
          if (record['level'] === 'warn') warnings.push(record);
        },
      },
    );
    const fetch = vi.fn((url: string | URL | Request, init?: RequestInit) => {
      calls.push({ url: url as string, body: JSON.parse(init?.body as string) as unknown });
      const answer = answers.length > 1 ? answers.shift()! : answers[0]!;
      if (answer instanceof Error) return Promise.reject(answer);
      return Promise.resolve(
        new Response(answer === 204 ? null : '', {
          status: answer,
          headers: answer === 429 ? { 'retry-after': '2' } : {},
        }),
      );
    });
    const notifier = createNotifier({
      targets,
      fallback: ['ops'],
      routes: { shop: ['ops', 'chat'] },
      queueSize: extra.queueSize ?? 10,
      retriesMs: [1_000, 5_000],
      timeoutMs: 1_000,
      ...(extra.concurrency !== undefined ? { concurrency: extra.concurrency } : {}),
      log: captured,
      counter: {
        inc: (labels?: Partial<Record<'target' | 'result', string | number>>) =>
          counted.push(`${labels?.target}:${labels?.result}`),
      },
      fetch: fetch as unknown as typeof globalThis.fetch,
    });
    return { notifier, calls, counted, warnings };
  }

  it('posts to every target of the route, each in its own format', async () => {
    const { notifier, calls, counted } = setUp([204]);
    notifier.notify(completed);
    await vi.advanceTimersByTimeAsync(0);
    expect(calls.map((c) => c.url)).toEqual([
      'https://hooks.example.com/ops',
      'https://hooks.example.com/chat',
    ]);
    expect(calls[1]?.body).toEqual({
      text: expect.stringContaining('Rollout completed') as unknown,
    });
    expect(counted.sort()).toEqual(['chat:sent', 'ops:sent']);
    expect(notifier.pending).toBe(0);
  });

  it("ignores an annotation naming another team's target, and says so", async () => {
    const { notifier, calls, warnings } = setUp([204]);
    notifier.notify({ ...completed, workload: { ...completed.workload!, namespace: 'blog' } }, [
      'chat',
    ]);
    await vi.advanceTimersByTimeAsync(0);
    expect(calls.map((c) => c.url)).toEqual(['https://hooks.example.com/ops']);
    expect(warnings).toEqual([
      expect.objectContaining({ target: 'chat', namespace: 'blog', workload: 'web' }),
    ]);
  });

  it('retries network errors, 5xx and 429 (after Retry-After), then gives up; never 4xx', async () => {
    const { notifier, calls, counted } = setUp([new Error('ECONNREFUSED'), 503, 429, 404]);
    notifier.notify(dead);
    await vi.advanceTimersByTimeAsync(0);
    await vi.advanceTimersByTimeAsync(1_000);
    expect(calls).toHaveLength(2);
    await vi.advanceTimersByTimeAsync(5_000);
    expect(calls).toHaveLength(3); // 429 answered: the retries are used up
    expect(counted).toEqual(['ops:retried', 'ops:retried', 'ops:failed']);
    notifier.notify(dead);
    await vi.advanceTimersByTimeAsync(10_000);
    expect(counted.at(-1)).toBe('ops:failed');
    expect(calls).toHaveLength(4);
  });

  it('drops what does not fit in its queue, and never waits for a receiver', async () => {
    const { notifier, counted } = setUp([204], { queueSize: 1, concurrency: 1 });
    for (let i = 0; i < 3; i += 1) notifier.notify(dead);
    expect(counted).toEqual(['ops:dropped']);
    await vi.advanceTimersByTimeAsync(0);
    await notifier.close();
    expect(counted.filter((c) => c === 'ops:sent')).toHaveLength(2);
  });
});
