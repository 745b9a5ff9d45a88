// Every workload kind under every policy, against a real kube-apiserver (no
// controllers run there: the rollout status a controller would write, the test writes to the
// status subresource). The resolver's index and the restarter's handler and rollout tracker run
// in process, joined by a function instead of NATS.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WORKLOAD_KINDS, type WorkloadKind } from '@onpush/contracts';
import {
  ANNOTATIONS,
  dig,
  discoverRollouts,
  kubeHttp,
  type KubeConfig,
  type KubeHttp,
} from '@onpush/kube';
import { activeKinds } from '@onpush/resolver';
import { eventually, useSandbox } from '@onpush/testing';
import {
  REPO,
  adminConfig,
  createNamespaces,
  createWorkloads,
  digest,
  doneStatus,
  fates,
  imagesOf,
  installRolloutCrd,
  log,
  marksOf,
  readWorkload,
  startOnpush,
  writeStatus,
  type Onpush,
  type WorkloadSpec,
} from './workloads-harness.js';

const NS = 'kinds';
const APP = `${REPO}/app`;
const POLICIES = {
  restart: undefined,
  pin: 'pin',
  semver: 'semver:^1.2',
  glob: 'glob:1.*',
  regex: 'regex:^1\\.\\d+$',
} as const;
type PolicyName = keyof typeof POLICIES;
const POLICY_NAMES = Object.keys(POLICIES) as PolicyName[];
const FOLLOWERS: PolicyName[] = ['semver', 'glob', 'regex'];

const nameOf = (kind: WorkloadKind, policy: PolicyName) => `${kind.toLowerCase()}-${policy}`;
const key = (kind: WorkloadKind, policy: PolicyName) => `${kind}/${NS}/${nameOf(kind, policy)}`;

// Given, in one namespace, a workload of each kind under each policy — every one runs …/app:1.2
// in an init container, a native sidecar and an app container, next to an unrelated proxy — and
// the Argo Rollouts CRD registered by the test.
describe('every kind, every policy (real kube-apiserver)', () => {
  const sandbox = useSandbox(['kube'], 'workloads-kinds');
  let admin: KubeConfig;
  let http: KubeHttp;
  let onpush: Onpush;
  let kinds: WorkloadKind[];

  beforeAll(async () => {
    admin = adminConfig(sandbox().need('kube').kubeconfigPath);
    http = await kubeHttp(admin);
    await createNamespaces(admin, [NS]);
    await installRolloutCrd(admin);
    const workloads: WorkloadSpec[] = WORKLOAD_KINDS.flatMap((kind) =>
      POLICY_NAMES.map((policy) => ({
        kind,
        namespace: NS,
        name: nameOf(kind, policy),
        images: {
          'init-migrate': `${APP}:1.2`,
          'init-sidecar': `${APP}:1.2`,
          app: `${APP}:1.2`,
          proxy: 'envoyproxy/envoy:v1.31',
        },
        annotations:
          POLICIES[policy] === undefined ? {} : { [ANNOTATIONS.policy]: POLICIES[policy] },
      })),
    );
    await createWorkloads(admin, workloads);
    kinds = await activeKinds(WORKLOAD_KINDS, () => discoverRollouts(http), log);
    onpush = await startOnpush({ restarter: admin, kinds });
  });

  afterAll(async () => {
    await onpush?.stop();
    http?.close();
  });

  it('finds Argo Rollouts served, and indexes all 25 workloads', () => {
    expect(kinds).toEqual([...WORKLOAD_KINDS]);
    expect(onpush.index.stats().workloads).toBe(25);
  });

  it('restarts every workload on a push of the tag they run; pins the pin workloads to its digest', async () => {
    const outcomes = await onpush.push({ tag: '1.2', digest: digest(1) });
    const byWorkload = fates(outcomes);
    expect(byWorkload['(event)']).toBe('dispatched');
    for (const kind of WORKLOAD_KINDS)
      for (const policy of POLICY_NAMES)
        expect(byWorkload[key(kind, policy)], key(kind, policy)).toBe('restarted');

    for (const kind of WORKLOAD_KINDS) {
      const pinned = await imagesOf(http, kind, NS, nameOf(kind, 'pin'));
      expect(pinned, `${kind} pin`).toEqual({
        'init-migrate': `${APP}:1.2@${digest(1)}`,
        'init-sidecar': `${APP}:1.2@${digest(1)}`,
        app: `${APP}:1.2@${digest(1)}`,
        proxy: 'envoyproxy/envoy:v1.31',
      });
      for (const policy of ['restart', ...FOLLOWERS] as PolicyName[]) {
        const marks = await marksOf(http, kind, NS, nameOf(kind, policy));
        expect(marks[ANNOTATIONS.digest], `${kind} ${policy}`).toBe(digest(1));
        expect(marks[ANNOTATIONS.restartedAt]).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
        expect((await imagesOf(http, kind, NS, nameOf(kind, policy)))['app']).toBe(`${APP}:1.2`);
      }
    }
    // An Argo Rollout restarts through spec.restartAt, not through its pod template.
    const rollout = await readWorkload(http, 'Rollout', NS, 'rollout-restart');
    expect((rollout['spec'] as { restartAt?: string }).restartAt).toMatch(/Z$/);
    const deployment = await marksOf(http, 'Deployment', NS, 'deployment-restart');
    expect(deployment[ANNOTATIONS.eventId]).toBe(outcomes[0]?.eventId);
  });

  it('moves the semver, glob and regex workloads to a newer matching tag, and only them', async () => {
    const outcomes = await onpush.push({ tag: '1.3', digest: digest(2) });
    const byWorkload = fates(outcomes);
    const moved = WORKLOAD_KINDS.flatMap((kind) => FOLLOWERS.map((policy) => key(kind, policy)));
    expect(
      Object.keys(byWorkload)
        .filter((k) => k !== '(event)')
        .sort(),
    ).toEqual(moved.sort());
    for (const k of moved) expect(byWorkload[k], k).toBe('restarted');
    for (const kind of WORKLOAD_KINDS) {
      for (const policy of FOLLOWERS) {
        expect(await imagesOf(http, kind, NS, nameOf(kind, policy)), `${kind} ${policy}`).toEqual({
          'init-migrate': `${APP}:1.3`,
          'init-sidecar': `${APP}:1.3`,
          app: `${APP}:1.3`,
          proxy: 'envoyproxy/envoy:v1.31',
        });
      }
      expect((await imagesOf(http, kind, NS, nameOf(kind, 'restart')))['app']).toBe(`${APP}:1.2`);
    }
  });

  it('moves nobody to a tag outside every policy; semver never to a lower version', async () => {
    expect(fates(await onpush.push({ tag: '2.0', digest: digest(3) }))).toEqual({
      '(event)': 'no-match',
    });
    // 1.1 < 1.3: semver stays. A glob or a regex has no order of tags: the latest matching push
    // wins (a late delivery of an older push never does: the pushed-at guard).
    const back = fates(await onpush.push({ tag: '1.1', digest: digest(4) }));
    const followers = WORKLOAD_KINDS.flatMap((kind) =>
      (['glob', 'regex'] as const).map((policy) => key(kind, policy)),
    );
    expect(
      Object.keys(back)
        .filter((k) => k !== '(event)')
        .sort(),
    ).toEqual(followers.sort());
    expect((await imagesOf(http, 'StatefulSet', NS, 'statefulset-semver'))['app']).toBe(
      `${APP}:1.3`,
    );
    expect((await imagesOf(http, 'StatefulSet', NS, 'statefulset-glob'))['app']).toBe(`${APP}:1.1`);
  });

  it('follows each rollout until its controller reports it done, or failed', async () => {
    const rolling = WORKLOAD_KINDS.filter((k) => k !== 'CronJob');
    for (const kind of rolling) {
      const name = nameOf(kind, 'restart');
      await writeStatus(
        http,
        kind,
        NS,
        name,
        doneStatus(kind, await readWorkload(http, kind, NS, name)),
      );
    }
    await writeStatus(http, 'Deployment', NS, 'deployment-pin', {
      observedGeneration: Number(
        dig(await readWorkload(http, 'Deployment', NS, 'deployment-pin'), [
          'metadata',
          'generation',
        ]),
      ),
      conditions: [
        {
          type: 'Progressing',
          status: 'False',
          reason: 'ProgressDeadlineExceeded',
          message: 'ReplicaSet "deployment-pin-5d4f" has timed out progressing.',
        },
      ],
    });
    const ended = await eventually(
      'five rollout outcomes',
      () => (onpush.rollouts.length >= 5 ? onpush.rollouts : undefined),
      { timeoutMs: 20_000 },
    );
    expect(fates(ended)).toEqual({
      ...Object.fromEntries(rolling.map((kind) => [key(kind, 'restart'), 'rollout-completed'])),
      [key('Deployment', 'pin')]: 'rollout-failed:progress_deadline_exceeded',
    });
    for (const o of ended) expect(o.durationMs).toBeGreaterThan(0);
    expect(ended.some((o) => o.workload?.kind === 'CronJob')).toBe(false);
  });
});
