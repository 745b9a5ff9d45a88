// Approvals (`onpush.dev/approval: required`) end to end, against the real nats-server,
// kube-apiserver, restarter and dlq-manager processes and the `onpush` CLI: a restart waits —
// across a kill -9 of the restarter and of nats-server — until `onpush approve` lets it go; one rejected through the
// dlq-manager's /approvals API (bearer token; 401 without) ends `rejected`; one nobody decides
// ends `expired` at its deadline; `onpush reject` and an approval through the API too. Nothing
// waiting is patched.
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Approval, Outcome, RestartRequest } from '@onpush/contracts';
import { ANNOTATIONS, kubeClients, loadKubeConfig, type KubeClients } from '@onpush/kube';
import { eventually, useSandbox } from '@onpush/testing';
import { readOutcomes } from '../e2e/pipeline.js';
import { startDlqManager, type DlqManagerProcess } from '../support/dlq-manager.js';
import { receiver, type Receiver } from '../support/receiver.js';
import { deployment, ensureNamespaces } from '../support/kube.js';
import { startRestarter, type RestarterProcess } from './restarter-harness.js';

const IMAGE = 'europe-west1-docker.pkg.dev/p/r/app';
const DIGEST = `sha256:${'8'.repeat(64)}`;
const TOKEN = 'approvals-admin-token-0123456789abcdef';
const TIMEOUT_S = 8;
const cliMain = fileURLToPath(new URL('../../cli/dist/main.js', import.meta.url));

function push(eventId: string, name: string): RestartRequest {
  return {
    v: 1,
    eventId,
    image: IMAGE,
    tag: '1.0',
    digest: DIGEST,
    pushedAt: new Date().toISOString(),
    workload: { kind: 'Deployment', namespace: 'shop', name, containers: ['app'] },
  };
}

describe('approvals: onpush approve, reject through the API, expiry', () => {
  const sandbox = useSandbox(['nats', 'kube'], 'restarter-approvals');
  let kube: KubeClients;
  let restarter: RestarterProcess;
  let dlqManager: DlqManagerProcess | undefined;
  let api = '';
  let hooks: Receiver;

  beforeAll(async () => {
    kube = kubeClients(loadKubeConfig(sandbox().need('kube').kubeconfigPath));
    await ensureNamespaces(kube, ['shop']);
    for (const name of ['a', 'b', 'c', 'd', 'e']) {
      const body = deployment(name, `${IMAGE}:1.0`);
      body.metadata!.annotations = { [ANNOTATIONS.approval]: 'required' };
      await kube.apps.createNamespacedDeployment({ namespace: 'shop', body });
    }
    hooks = await receiver();
    restarter = await startRestarter(sandbox(), {
      APPROVAL_TIMEOUT: `${TIMEOUT_S}s`,
      NOTIFY_TARGETS: `chat=slack:${hooks.base}/chat`,
      NOTIFY_DEFAULT: 'chat',
    });
    dlqManager = await startDlqManager(sandbox(), TOKEN);
    api = dlqManager.api;
  });

  afterAll(async () => {
    await dlqManager?.stop();
    await restarter?.stop();
    await hooks?.close();
  });

  function onpush(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
    return new Promise((resolve) => {
      execFile(
        process.execPath,
        [cliMain, ...args],
        { env: { ...process.env, ...sandbox().env }, timeout: 30_000 },
        (error, stdout, stderr) => {
          const code = error ? (typeof error.code === 'number' ? error.code : 1) : 0;
          resolve({ code, stdout, stderr });
        },
      );
    });
  }
  const pending = async (): Promise<Approval[]> => {
    const { code, stdout, stderr } = await onpush(['pending', '--json']);
    if (code !== 0) throw new Error(`onpush pending exited ${code}: ${stderr}`);
    return JSON.parse(stdout) as Approval[];
  };
  const waitingFor = (name: string): Promise<Approval> =>
    eventually(
      `${name} waiting for approval`,
      async () => (await pending()).find((a) => a.workload.name === name),
      { timeoutMs: 20_000, intervalMs: 250 },
    );
  const outcomeOf = (eventId: string): Promise<Outcome> => restarter.outcomeOf(eventId, 30_000);
  const digestOf = async (name: string) =>
    (await kube.apps.readNamespacedDeployment({ namespace: 'shop', name })).spec?.template.metadata
      ?.annotations?.[ANNOTATIONS.digest];
  const reasons = async (name: string) =>
    (await kube.core.listNamespacedEvent({ namespace: 'shop' })).items
      .filter((e) => e.involvedObject.name === name)
      .map((e) => e.reason)
      .sort();

  it('restarts only once someone approves, across a kill -9 of the restarter and nats-server', async () => {
    await restarter.send(push('approve:a', 'a'));
    const waiting = await waitingFor('a');
    expect(waiting).toMatchObject({ state: 'pending', eventId: 'approve:a', image: IMAGE });
    // `onpush pending` as people read it
    const table = await onpush(['pending']);
    expect(table.stdout).toMatch(new RegExp(`${waiting.id}\\s+pending\\s+Deployment/shop/a`));
    // the chat was told what waits, and how to let it go
    const asked = await eventually('the approval notification', () =>
      hooks.got.find((r) => r.body.text?.includes(`onpush approve ${waiting.id}`)),
    );
    expect(asked.body.text).toMatch(/^✋ Waiting for approval: Deployment shop\/a /);
    expect(await digestOf('a')).toBeUndefined();

    // the restarter and nats-server killed while it waits
    await restarter.crash({ nats: true });
    await new Promise((resolve) => setTimeout(resolve, 1_000));
    expect(await digestOf('a')).toBeUndefined();
    expect((await waitingFor('a')).id).toBe(waiting.id);

    // approved by a unique prefix of its id
    const approved = await onpush(['approve', waiting.id.slice(0, 8), '--note', 'canary ok']);
    expect(approved.code, approved.stderr).toBe(0);
    expect(approved.stdout).toContain(`${waiting.id} approved: Deployment/shop/a`);
    expect(await outcomeOf('approve:a')).toMatchObject({ fate: 'restarted' });
    expect(await digestOf('a')).toBe(DIGEST);
    const a = await kube.apps.readNamespacedDeployment({ namespace: 'shop', name: 'a' });
    expect(a.metadata?.generation).toBe(2);
    expect(await reasons('a')).toEqual(['RestartAwaitingApproval', 'Restarted']);
    // decided once: approving again says so
    const again = await onpush(['approve', waiting.id]);
    expect(again.code).toBe(1);
    expect(again.stderr).toContain(`approval ${waiting.id} is approved already`);
  });

  it('ends rejected when rejected through the API, which refuses a request without its token', async () => {
    await restarter.send(push('approve:b', 'b'));
    const { id } = await waitingFor('b');
    const reject = (headers: Record<string, string>, action = 'reject') =>
      fetch(`${api}/approvals/${id}/${action}`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...headers },
        body: JSON.stringify({ note: 'bad build' }),
      });
    expect((await reject({})).status).toBe(401);
    expect((await fetch(`${api}/approvals`)).status).toBe(401);
    const listed = await fetch(`${api}/approvals`, {
      headers: { authorization: `Bearer ${TOKEN}` },
    });
    expect(
      ((await listed.json()) as { approvals: Approval[] }).approvals.map((x) => x.id),
    ).toContain(id);
    const done = await reject({ authorization: `Bearer ${TOKEN}` });
    expect(done.status).toBe(200);
    expect(await done.json()).toMatchObject({ id, state: 'rejected', decidedBy: 'api' });
    // a second decision loses
    expect((await reject({ authorization: `Bearer ${TOKEN}` }, 'approve')).status).toBe(409);

    const outcome = await outcomeOf('approve:b');
    expect(outcome).toMatchObject({ fate: 'rejected', workload: { name: 'b' } });
    expect(outcome.detail).toMatch(new RegExp(`^approval ${id} rejected by api at .*: bad build$`));
    expect(await digestOf('b')).toBeUndefined();
    await eventually('the RestartRejected Event', async () =>
      (await reasons('b')).includes('RestartRejected') ? true : undefined,
    );
  });

  it('ends rejected by `onpush reject`, and restarts once approved through the API', async () => {
    await restarter.send(push('approve:d', 'd'));
    await restarter.send(push('approve:e', 'e'));
    // (read and decided through the API first, quickly: APPROVAL_TIMEOUT here is short)
    const listed = () =>
      fetch(`${api}/approvals`, { headers: { authorization: `Bearer ${TOKEN}` } }).then(
        async (r) => ((await r.json()) as { approvals: Approval[] }).approvals,
      );
    const [d, e] = await eventually('d and e waiting', async () => {
      const waiting = await listed();
      const of = (name: string) =>
        waiting.find((x) => x.workload.name === name && x.state === 'pending');
      const both = [of('d'), of('e')];
      return both[0] && both[1] ? (both as [Approval, Approval]) : undefined;
    });
    const approved = await fetch(`${api}/approvals/${e.id}/approve`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${TOKEN}` },
      body: JSON.stringify({ note: 'looks good' }),
    });
    expect(approved.status).toBe(200);
    expect(await approved.json()).toMatchObject({ id: e.id, state: 'approved', decidedBy: 'api' });
    const rejected = await onpush(['reject', d.id, '--note', 'wrong tag']);
    expect(rejected.code, rejected.stderr).toBe(0);
    expect(rejected.stdout).toContain(`${d.id} rejected: Deployment/shop/d`);

    const outcome = await outcomeOf('approve:d');
    expect(outcome).toMatchObject({ fate: 'rejected', workload: { name: 'd' } });
    expect(outcome.detail).toMatch(
      new RegExp(`^approval ${d.id} rejected by cli:.* at .*: wrong tag$`),
    );
    expect(await digestOf('d')).toBeUndefined();
    expect(await outcomeOf('approve:e')).toMatchObject({ fate: 'restarted' });
    expect(await digestOf('e')).toBe(DIGEST);
  });

  it('ends expired when nobody decides before the deadline', async () => {
    const sent = Date.now();
    await restarter.send(push('approve:c', 'c'));
    const outcome = await outcomeOf('approve:c');
    expect(outcome).toMatchObject({ fate: 'expired', workload: { name: 'c' } });
    expect(Date.parse(outcome.at) - sent).toBeGreaterThanOrEqual(TIMEOUT_S * 1000);
    expect(await digestOf('c')).toBeUndefined();
    const all = await onpush(['pending', '--state', 'all', '--json']);
    const c = (JSON.parse(all.stdout) as Approval[]).find((x) => x.workload.name === 'c');
    expect(c).toMatchObject({ state: 'expired', decidedBy: 'restarter' });
    // every request ended in exactly one fate
    const fates = (await readOutcomes(restarter.nc))
      .filter((o) => o.eventId.startsWith('approve:'))
      .map((o) => `${o.eventId} ${o.fate}`)
      .filter((line) => !line.includes('rollout'));
    expect(fates.sort()).toEqual([
      'approve:a restarted',
      'approve:b rejected',
      'approve:c expired',
      'approve:d rejected',
      'approve:e restarted',
    ]);
  });
});
