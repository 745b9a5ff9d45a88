// Which workloads onpush touches and how — namespace allow and deny lists, a label
// selector, opt-in by annotation, the containers that count, cooldown, dry run, pin — and how a
// push by digest only, a multi-arch index with its per-platform manifests, and a tag moved back
// to an older digest behave. Real kube-apiserver; resolver and restarter cores in process.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  ANNOTATIONS,
  kubeHttp,
  PatchStrategy,
  KINDS,
  objectPath,
  type KubeConfig,
  type KubeHttp,
} from '@onpush/kube';
import { eventually, useSandbox } from '@onpush/testing';
import {
  REPO,
  adminConfig,
  createNamespaces,
  createWorkloads,
  digest,
  fates,
  imagesOf,
  marksOf,
  readWorkload,
  startOnpush,
  type Onpush,
} from './workloads-harness.js';

const APP = `${REPO}/app`;
const at = (second: number) => `2026-11-26T10:00:${String(second).padStart(2, '0')}Z`;
const dep = (
  namespace: string,
  name: string,
  images: Record<string, string>,
  extra: object = {},
) => ({
  kind: 'Deployment' as const,
  namespace,
  name,
  images,
  ...extra,
});

describe('choosing workloads safely (real kube-apiserver)', () => {
  const sandbox = useSandbox(['kube'], 'workloads-selection');
  let admin: KubeConfig;
  let http: KubeHttp;
  const running: Onpush[] = [];
  const start = async (...args: Parameters<typeof startOnpush>) => {
    const onpush = await startOnpush(...args);
    running.push(onpush);
    return onpush;
  };

  beforeAll(async () => {
    admin = adminConfig(sandbox().need('kube').kubeconfigPath);
    http = await kubeHttp(admin);
    await createNamespaces(admin, ['shop', 'blog', 'ops']);
  });

  afterAll(async () => {
    for (const onpush of running) await onpush.stop();
    http?.close();
  });

  it('touches only the allowed namespaces, never the excluded ones, and only what the selector matches', async () => {
    await createWorkloads(admin, [
      dep('shop', 'scope-web', { app: `${APP}:scope` }, { labels: { team: 'web' } }),
      dep('blog', 'scope-web', { app: `${APP}:scope` }, { labels: { team: 'web' } }),
      dep('ops', 'scope-web', { app: `${APP}:scope` }, { labels: { team: 'web' } }),
      dep('shop', 'scope-batch', { app: `${APP}:scope` }, { labels: { team: 'batch' } }),
    ]);
    const scope = (over: object) => ({
      select: 'labelled' as const,
      optIn: 'label' as const,
      namespaces: [],
      exclude: [],
      ...over,
    });
    const allowed = await start({
      restarter: admin,
      scope: scope({ namespaces: ['shop', 'blog'] }),
      dryRun: true,
    });
    expect(fates(await allowed.push({ tag: 'scope', digest: digest(1) }))).toEqual({
      '(event)': 'dispatched',
      'Deployment/blog/scope-web': 'would-restart',
      'Deployment/shop/scope-batch': 'would-restart',
      'Deployment/shop/scope-web': 'would-restart',
    });
    const excluded = await start({
      restarter: admin,
      scope: scope({ exclude: ['ops', 'blog'] }),
      dryRun: true,
    });
    expect(
      Object.keys(fates(await excluded.push({ tag: 'scope', digest: digest(1) }))).sort(),
    ).toEqual(['(event)', 'Deployment/shop/scope-batch', 'Deployment/shop/scope-web']);
    const selected = await start({
      restarter: admin,
      scope: scope({ selector: 'team=web', exclude: ['ops'] }),
      dryRun: true,
    });
    expect(
      Object.keys(fates(await selected.push({ tag: 'scope', digest: digest(1) }))).sort(),
    ).toEqual(['(event)', 'Deployment/blog/scope-web', 'Deployment/shop/scope-web']);
    // ONPUSH_DRY_RUN: every one of those ended `would-restart`, and nothing was patched.
    expect(await marksOf(http, 'Deployment', 'ops', 'scope-web')).toEqual({});
    expect(await marksOf(http, 'Deployment', 'shop', 'scope-web')).toEqual({});
  });

  it('opts in by annotation when told to, and drops a workload whose annotation goes', async () => {
    await createWorkloads(admin, [
      dep(
        'shop',
        'annotated',
        { app: `${APP}:optin` },
        {
          labels: { 'onpush.dev/enabled': 'false' },
          annotations: { [ANNOTATIONS.enabled]: 'true' },
        },
      ),
      dep('shop', 'labelled-only', { app: `${APP}:optin` }),
    ]);
    const onpush = await start({
      restarter: admin,
      scope: { select: 'labelled', optIn: 'annotation', namespaces: ['shop'], exclude: [] },
    });
    expect(fates(await onpush.push({ tag: 'optin', digest: digest(2) }))).toEqual({
      '(event)': 'dispatched',
      'Deployment/shop/annotated': 'restarted',
    });
    await http.patch(
      objectPath(KINDS.Deployment, 'shop', 'annotated'),
      { metadata: { annotations: { [ANNOTATIONS.enabled]: null } } },
      PatchStrategy.MergePatch,
    );
    await eventually(
      'the opted-out workload to leave the index',
      () => !onpush.index.has({ kind: 'Deployment', namespace: 'shop', name: 'annotated' }),
    );
    expect(fates(await onpush.push({ tag: 'optin', digest: digest(3) }))).toEqual({
      '(event)': 'no-match',
    });
  });

  describe('per workload', () => {
    let onpush: Onpush;
    beforeAll(async () => {
      await createWorkloads(admin, [
        dep(
          'blog',
          'pinned-app',
          { 'init-sidecar': `${APP}:2.0`, app: `${APP}:2.0` },
          {
            annotations: { [ANNOTATIONS.policy]: 'pin', [ANNOTATIONS.containers]: 'app' },
          },
        ),
        dep(
          'blog',
          'cool',
          { app: `${APP}:cool` },
          { annotations: { [ANNOTATIONS.cooldown]: '1h' } },
        ),
        dep(
          'blog',
          'rehearsal',
          { app: `${APP}:cool` },
          { annotations: { [ANNOTATIONS.dryRun]: 'true' } },
        ),
        dep('blog', 'fixed', { app: `${APP}@${digest(40)}` }),
        dep('blog', 'multi', { app: `${APP}:3.0` }),
        dep(
          'blog',
          'multi-pin',
          { app: `${APP}:3.0` },
          { annotations: { [ANNOTATIONS.policy]: 'pin' } },
        ),
        dep('blog', 'moved', { app: `${APP}:4.0` }),
      ]);
      onpush = await start({
        restarter: admin,
        scope: { select: 'labelled', optIn: 'label', namespaces: ['blog'], exclude: [] },
      });
    });

    it('pins only the containers that count to repo:tag@digest', async () => {
      expect(
        fates(await onpush.push({ tag: '2.0', digest: digest(5) }))['Deployment/blog/pinned-app'],
      ).toBe('restarted');
      expect(await imagesOf(http, 'Deployment', 'blog', 'pinned-app')).toEqual({
        'init-sidecar': `${APP}:2.0`,
        app: `${APP}:2.0@${digest(5)}`,
      });
    });

    it('restarts at most once per cooldown: a push inside it ends unchanged/cooldown', async () => {
      expect(
        fates(await onpush.push({ tag: 'cool', digest: digest(6) }))['Deployment/blog/cool'],
      ).toBe('restarted');
      const second = await onpush.push({ tag: 'cool', digest: digest(7) });
      expect(fates(second)['Deployment/blog/cool']).toBe('unchanged:cooldown');
      expect(second.find((o) => o.reason === 'cooldown')?.detail).toMatch(/^cooldown until \d{4}-/);
      expect((await marksOf(http, 'Deployment', 'blog', 'cool'))[ANNOTATIONS.digest]).toBe(
        digest(6),
      );
    });

    it('says what a dry-run workload would do, and patches nothing', async () => {
      const before = await readWorkload(http, 'Deployment', 'blog', 'rehearsal');
      expect(
        fates(await onpush.push({ tag: 'cool', digest: digest(8) }))['Deployment/blog/rehearsal'],
      ).toBe('would-restart');
      const after = await readWorkload(http, 'Deployment', 'blog', 'rehearsal');
      expect(after['metadata']).toEqual(before['metadata']);
      expect(await marksOf(http, 'Deployment', 'blog', 'rehearsal')).toEqual({});
    });

    it('ends a push by digest only no-match, unless a container names that digest (then unchanged)', async () => {
      expect(fates(await onpush.push({ digest: digest(41) }))).toEqual({ '(event)': 'no-match' });
      expect(fates(await onpush.push({ digest: digest(40) }))).toEqual({
        '(event)': 'dispatched',
        'Deployment/blog/fixed': 'unchanged',
      });
      expect(await marksOf(http, 'Deployment', 'blog', 'fixed')).toEqual({});
    });

    it('restarts once for a multi-arch push: per-platform manifests are no-match, the tagged index restarts or pins', async () => {
      const platforms = [
        await onpush.push({ digest: digest(50) }),
        await onpush.push({ digest: digest(51) }),
      ];
      expect(platforms.map(fates)).toEqual([{ '(event)': 'no-match' }, { '(event)': 'no-match' }]);
      const index = fates(await onpush.push({ tag: '3.0', digest: digest(52) }));
      expect(index).toEqual({
        '(event)': 'dispatched',
        'Deployment/blog/multi': 'restarted',
        'Deployment/blog/multi-pin': 'restarted',
      });
      expect((await marksOf(http, 'Deployment', 'blog', 'multi'))[ANNOTATIONS.digest]).toBe(
        digest(52),
      );
      expect((await imagesOf(http, 'Deployment', 'blog', 'multi-pin'))['app']).toBe(
        `${APP}:3.0@${digest(52)}`,
      );
      expect(fates(await onpush.push({ digest: digest(51) }))).toEqual({ '(event)': 'no-match' });
    });

    it('follows a tag moved back to an older digest; a late copy of an older push never wins', async () => {
      const newer = await onpush.push({ tag: '4.0', digest: digest(61), pushedAt: at(10) });
      expect(fates(newer)['Deployment/blog/moved']).toBe('restarted');
      // The tag is moved back to the older content: a new push (later push time), older digest.
      const back = await onpush.push({ tag: '4.0', digest: digest(60), pushedAt: at(20) });
      expect(fates(back)['Deployment/blog/moved']).toBe('restarted');
      expect((await marksOf(http, 'Deployment', 'blog', 'moved'))[ANNOTATIONS.digest]).toBe(
        digest(60),
      );
      // A late delivery of the first push (pushed at 10 s) does not roll it forward again.
      const late = await onpush.push({ tag: '4.0', digest: digest(61), pushedAt: at(10) });
      expect(fates(late)['Deployment/blog/moved']).toBe('unchanged:superseded');
      expect((await marksOf(http, 'Deployment', 'blog', 'moved'))[ANNOTATIONS.digest]).toBe(
        digest(60),
      );
    });
  });
});
