// Every guardrail waiting at once when the restarter and nats-server are killed (issue 16's
// crash point): a wave gated on its predecessor's rollout, a maturity delay running and an
// approval pending — all in JetStream, none in a process. After kill -9 of the restarter and of
// nats-server: the gate opens when the wave before is ready, the delayed push is applied once its
// delay is over and not before, the approved restart goes; each workload restarted exactly once
// and each request ends with exactly one fate. Real nats-server, kube-apiserver, restarter
// process and `onpush` CLI.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  isAccountingFate,
  type Approval,
  type Outcome,
  type RestartRequest,
} from '@onpush/contracts';
import { ANNOTATIONS, kubeClients, kubeHttp, loadKubeConfig, type KubeHttp } from '@onpush/kube';
import { eventually, useSandbox } from '@onpush/testing';
import { readOutcomes } from '../e2e/pipeline.js';
import { startRestarter, type RestarterProcess } from '../integration/restarter-harness.js';
import { doneStatus, readWorkload, writeStatus } from '../integration/workloads-harness.js';
import { onpushCli } from '../support/cli.js';
import { deployment, ensureNamespaces } from '../support/kube.js';

const IMAGE = 'europe-west1-docker.pkg.dev/p/r/guarded';
const DIGEST = `sha256:${'9'.repeat(64)}`;
const DELAY_S = 12;
const NS = 'guarded';

function request(
  eventId: string,
  name: string,
  waves?: RestartRequest['waves'],
  pushedAt = new Date(),
): RestartRequest {
  return {
    v: 1,
    eventId,
    image: IMAGE,
    tag: '1.0',
    digest: DIGEST,
    pushedAt: pushedAt.toISOString(),
    workload: { kind: 'Deployment', namespace: NS, name, containers: ['app'] },
    ...(waves ? { waves } : {}),
  };
}

describe('guardrails across a kill -9 of the restarter and of nats-server', () => {
  const sandbox = useSandbox(['nats', 'kube'], 'guardrails-crash');
  let restarter: RestarterProcess;
  let http: KubeHttp;

  beforeAll(async () => {
    const config = loadKubeConfig(sandbox().need('kube').kubeconfigPath);
    const kube = kubeClients(config);
    http = await kubeHttp(config);
    await ensureNamespaces(kube, [NS]);
    const make = async (name: string, annotations: Record<string, string>) => {
      const body = deployment(name, `${IMAGE}:1.0`);
      body.metadata!.annotations = annotations;
      await kube.apps.createNamespacedDeployment({ namespace: NS, body });
    };
    await make('first', { [ANNOTATIONS.wave]: '1' });
    await make('second', { [ANNOTATIONS.wave]: '2' });
    await make('matures', { [ANNOTATIONS.delay]: `${DELAY_S}s` });
    await make('approved', { [ANNOTATIONS.approval]: 'required' });
    restarter = await startRestarter(sandbox());
  });

  afterAll(async () => {
    await restarter?.stop();
    http?.close();
  });

  const onpush = onpushCli(() => sandbox().need('nats').url);
  const pendingApproval = () =>
    eventually(
      'the approval pending',
      async () => {
        const stdout = await onpush(['pending', '--json']);
        return (JSON.parse(stdout) as Approval[]).find(
          (a) => a.workload.name === 'approved' && a.state === 'pending',
        );
      },
      { timeoutMs: 30_000, intervalMs: 250 },
    );
  interface Live {
    metadata?: { generation?: number };
    spec?: { template?: { metadata?: { annotations?: Record<string, string> } } };
  }
  const read = async (name: string) =>
    (await readWorkload(http, 'Deployment', NS, name)) as Live & Record<string, unknown>;
  const digestOf = async (name: string) =>
    (await read(name)).spec?.template?.metadata?.annotations?.[ANNOTATIONS.digest];
  /** The workload fates of `eventId` (rollout results are not request fates). */
  const fatesOf = async (eventId: string): Promise<Outcome[]> =>
    (await readOutcomes(restarter.nc)).filter(
      (o) => o.eventId === eventId && isAccountingFate(o.fate),
    );
  const restartedOnce = (eventId: string, name: string) =>
    eventually(
      `${name} restarted`,
      async () => {
        const fates = (await fatesOf(eventId)).filter((o) => o.workload?.name === name);
        return fates.length > 0 ? fates : undefined;
      },
      { timeoutMs: 60_000, intervalMs: 250 },
    ).catch((e: unknown) => {
      throw new Error(`${String(e)}\n${restarter.logs(40)}`);
    });

  it('opens the gate, ends the delay and lets the approval go as if nothing had happened', async () => {
    const sizes = { '1': 1, '2': 1 };
    const pushedAt = new Date();
    await restarter.send(request('guard:wave', 'first', { wave: 1, sizes }));
    await restarter.send(request('guard:wave', 'second', { wave: 2, sizes }));
    await restarter.send(request('guard:delay', 'matures', undefined, pushedAt));
    await restarter.send(request('guard:approval', 'approved'));

    // all three waiting: wave 1 restarted but not rolled out, the delay running, the approval asked
    expect(await restartedOnce('guard:wave', 'first')).toMatchObject([{ fate: 'restarted' }]);
    const approval = await pendingApproval();
    await new Promise((resolve) => setTimeout(resolve, 2_000));
    expect(await digestOf('second')).toBeUndefined();
    expect(await digestOf('matures')).toBeUndefined();
    expect(await digestOf('approved')).toBeUndefined();

    // kill -9 of both
    await restarter.crash({ nats: true });

    // the approval is still pending, and goes once approved
    expect((await pendingApproval()).id).toBe(approval.id);
    expect(await onpush(['approve', approval.id])).toContain(`${approval.id} approved`);
    expect(await restartedOnce('guard:approval', 'approved')).toMatchObject([
      { fate: 'restarted' },
    ]);

    // the gate has not opened by itself; it opens once wave 1 is ready
    expect(await digestOf('second')).toBeUndefined();
    const first = await read('first');
    await writeStatus(http, 'Deployment', NS, 'first', doneStatus('Deployment', first));
    expect(await restartedOnce('guard:wave', 'second')).toMatchObject([{ fate: 'restarted' }]);

    // the delayed push is applied once it is DELAY_S old, not before
    const [matured] = await restartedOnce('guard:delay', 'matures');
    expect(matured).toMatchObject({ fate: 'restarted' });
    expect(Date.parse(matured!.at) - pushedAt.getTime()).toBeGreaterThanOrEqual(DELAY_S * 1000);

    // each workload restarted once (one new generation), each request one fate
    for (const name of ['first', 'second', 'matures', 'approved']) {
      expect((await read(name)).metadata?.generation, name).toBe(2);
      expect(await digestOf(name), name).toBe(DIGEST);
    }
    await new Promise((resolve) => setTimeout(resolve, 2_000));
    for (const eventId of ['guard:wave', 'guard:delay', 'guard:approval']) {
      const fates = (await fatesOf(eventId)).map((o) => `${o.workload?.name} ${o.fate}`);
      expect(fates.sort(), eventId).toEqual(
        {
          'guard:wave': ['first restarted', 'second restarted'],
          'guard:delay': ['matures restarted'],
          'guard:approval': ['approved restarted'],
        }[eventId],
      );
    }
    // wave 1's rollout, started before the kill, was followed again: told once
    const rollouts = (await readOutcomes(restarter.nc)).filter(
      (o) => o.eventId === 'guard:wave' && o.fate === 'rollout-completed',
    );
    expect(rollouts.map((o) => o.workload?.name)).toEqual(['first']);
    expect(restarter.supervisor.restarts()['restarter']).toBe(1);
  });
});
