// Failure mode: the Kubernetes API misbehaves. A fault-injecting proxy in front of the
// real kube-apiserver answers 429 with Retry-After, 500 and 409, resets connections (before the
// request, and after the API server applied it), and adds latency, at set rates. One namespace
// refuses the restarter outright (403: no RoleBinding there) until it is granted, and its dead
// letters are replayed by filter.
//
// Full size: 200 workloads, 10 pushes of each image —
//   ONPUSH_FAILURE_SCALE=full npx vitest run --project failure test/failure/kube-faults.test.ts
// CI size: 40 workloads (a quarter of them in the refusing namespace), 5 pushes of each image.
import { dirname, join } from 'node:path';
import { AuthorizationV1Api } from '@kubernetes/client-node';
import { describe, expect, it } from 'vitest';
import { loadKubeConfig } from '@onpush/kube';
import { eventually, useSandbox } from '@onpush/testing';
import { FAULT_KINDS, FaultProxy, type FaultPlan } from './fault-proxy.js';
import {
  PUSH_ONLY,
  digestsOf,
  finalPatchNotOnce,
  grantRestarter,
  keyOf,
  lastDigests,
  onpush,
  patchedTwice,
  planFleet,
  planStorm,
  realPushes,
  restarterToken,
  scaled,
  sendStorm,
  settled,
  staleWorkloads,
  tokenKubeconfig,
  useFleetPipeline,
  type Fleet,
  type Push,
} from './harness.js';

const WORKLOADS = scaled(40, 200);
const ROUNDS = scaled(5, 10);
const GRANTED = ['faults-a', 'faults-b', 'faults-c'];
const LOCKED = 'faults-locked';

/**
 * The faults, per 20 requests of each method: 3 of 20 GETs (15 %) and 5 of 20 PATCHes (25 %)
 * fail, every 4th request waits up to 300 ms more; a resource that just failed passes its next 4
 * requests (see FaultPlan.passesAfterFault).
 */
const PLAN: FaultPlan = {
  period: 20,
  faults: {
    GET: ['throttled', 'server_error', 'reset_before'],
    PATCH: ['conflict', 'throttled', 'reset_after', 'server_error', 'reset_before'],
  },
  retryAfterSeconds: 1,
  latencyEvery: 4,
  latencyMs: 300,
  passesAfterFault: 4,
};

// Given a fleet over three namespaces the restarter may patch in and one it may not, and the
// restarter reaching the API server only through the fault proxy, with its ServiceAccount token.
describe('Kubernetes API faults: throttling, errors, conflicts, resets, latency, then a 403', () => {
  const sandbox = useSandbox(['nats', 'kube'], 'kube-faults');
  /** Everything this file does comes after this: what `onpush audit --since` checks. */
  const since = new Date();
  const fleet = planFleet({ workloads: WORKLOADS, perImage: 2, namespaces: [...GRANTED, LOCKED] });
  let proxy: FaultProxy;
  let pushes: Push[] = [];
  const locked = (): Fleet['workloads'] => fleet.workloads.filter((w) => w.namespace === LOCKED);
  const granted = (): Fleet => ({
    ...fleet,
    namespaces: GRANTED,
    workloads: fleet.workloads.filter((w) => w.namespace !== LOCKED),
  });
  const run = useFleetPipeline(sandbox, {
    fleet,
    // the restarter's token (its namespaces exist now) and the proxy it reaches the API through
    env: async () => {
      const token = await restarterToken(sandbox(), GRANTED);
      const api = sandbox().need('kube');
      proxy = await FaultProxy.start({
        target: api.server,
        caFile: api.caFile,
        keyFile: join(dirname(api.caFile), 'apiserver.key'),
        plan: PLAN,
      });
      return {
        ingest: PUSH_ONLY,
        restarter: { KUBECONFIG: tokenKubeconfig(sandbox(), 'restarter', proxy.url, token) },
      };
    },
    after: async () => proxy?.close(),
  });

  const fail = (error: unknown): never => {
    throw new Error(`${String(error)}\n${run.logs.slice(-40).join('\n')}`);
  };

  it('restarts every permitted workload once per digest, ending on the last digest', async () => {
    // When the storm is sent through the faults
    const rounds = planStorm(fleet, fleet.images.length * ROUNDS, { label: 'faults' });
    pushes = rounds.flat();
    const started = Date.now();
    const deliveries = await sendStorm(() => run.ports.ingest, rounds, { roundIntervalMs: 1_000 });
    expect(deliveries.filter((d) => d.status !== 204)).toEqual([]);
    const account = await settled(sandbox().need('nats').url, since, 240_000).catch(fail);
    console.info(
      `kube-faults: settled ${Date.now() - started} ms after the first push; injected ${JSON.stringify(proxy.injected)} (${proxy.lostWriteAnswers} applied PATCHes unanswered), forwarded ${proxy.forwarded}`,
    );

    // Then every kind of fault was injected, PATCHes applied but their answers lost among them,
    for (const kind of FAULT_KINDS) expect(proxy.injected[kind], kind).toBeGreaterThan(0);
    expect(proxy.lostWriteAnswers).toBeGreaterThan(0);
    // every event and request is accounted for,
    expect(account.audit.unaccounted).toEqual([]);
    expect(account.audit.requests).toBe(pushes.length * 2);
    // every permitted workload carries the last digest, and none was patched twice for one digest
    expect(await staleWorkloads(run.kube, granted(), lastDigests(pushes))).toEqual([]);
    expect(patchedTwice(sandbox())).toEqual([]);
  });

  it('dead-letters every restart in the refusing namespace with reason http_403', async () => {
    const dead = (await settled(sandbox().need('nats').url, since)).ledger.outcomes.filter(
      (o) => o.fate === 'dead',
    );
    const lockedImages = new Set(locked().map((w) => w.image));
    const expected = realPushes(pushes).filter((p) => lockedImages.has(p.image)).length;
    expect(dead).toHaveLength(expected);
    for (const o of dead) {
      expect([o.stage, o.reason, o.workload?.namespace]).toEqual(['restarter', 'http_403', LOCKED]);
    }
    const listed = JSON.parse(
      await onpush(['dlq', 'ls', '--stage', 'restarter', '--reason', 'http_403', '--json'], {
        NATS_URL: sandbox().need('nats').url,
      }),
    ) as { entries: unknown[] };
    expect(listed.entries).toHaveLength(expected);
    const digests = await digestsOf(run.kube, fleet);
    expect(locked().map((w) => digests.get(keyOf(w)))).toEqual(locked().map(() => ''));
  });

  it('restarts them once the namespace is granted and the DLQ replayed by filter', async () => {
    // When the restarter is granted the namespace
    await grantRestarter(sandbox(), LOCKED);
    const authz = loadKubeConfig(sandbox().need('kube').kubeconfigPath).makeApiClient(
      AuthorizationV1Api,
    );
    await eventually('the grant to take effect', async () => {
      const review = await authz.createSubjectAccessReview({
        body: {
          spec: {
            user: 'system:serviceaccount:onpush:restarter',
            resourceAttributes: {
              namespace: LOCKED,
              verb: 'patch',
              group: 'apps',
              resource: 'deployments',
            },
          },
        },
      });
      return review.status?.allowed === true;
    });
    // and its dead letters are replayed by filter
    const natsUrl = sandbox().need('nats').url;
    const replay = JSON.parse(
      await onpush(['dlq', 'replay', '--stage', 'restarter', '--reason', 'http_403', '--json'], {
        NATS_URL: natsUrl,
      }),
    ) as { replayed: unknown[]; failed: unknown[] };
    const lockedImages = new Set(locked().map((w) => w.image));
    expect(replay.failed).toEqual([]);
    expect(replay.replayed).toHaveLength(
      realPushes(pushes).filter((p) => lockedImages.has(p.image)).length,
    );

    // Then everything settles, accounted for (each replayed dead letter ends once more),
    const account = await settled(natsUrl, since, 240_000).catch(fail);
    expect(account.audit.unaccounted).toEqual([]);
    // every workload — the formerly refused ones too — carries the last digest,
    expect(await staleWorkloads(run.kube, fleet, lastDigests(pushes))).toEqual([]);
    // and still no (workload, digest) was patched twice, each last digest exactly once
    expect(patchedTwice(sandbox())).toEqual([]);
    expect(
      finalPatchNotOnce(sandbox(), fleet, lastDigests(pushes), account.ledger.outcomes),
    ).toEqual([]);
    const listed = JSON.parse(
      await onpush(['dlq', 'ls', '--stage', 'restarter', '--reason', 'http_403', '--json'], {
        NATS_URL: natsUrl,
      }),
    ) as { entries: { replayedAt?: string }[] };
    expect(listed.entries.every((e) => e.replayedAt !== undefined)).toBe(true);
  });
});
