// The ReDoS annotation. `onpush.dev/policy: regex:^(\w+)+$` with a pushed 40-character tag that
// almost matches takes a backtracking engine hours (it doubles per character); the resolver and
// the restarter both apply the policy, so with such an engine one annotation in one namespace
// stalls every push in the cluster. Tag policies run on RE2 (linear time): the hostile pattern is
// answered like any other, and a push for someone else's workload right behind it is not held up.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Outcome } from '@onpush/contracts';
import { ANNOTATIONS, kubeClients, loadKubeConfig, type KubeClients } from '@onpush/kube';
import { eventually, useSandbox } from '@onpush/testing';
import { outcomesOf, startPipeline } from '../e2e/pipeline.js';
import { deployment } from '../support/kube.js';

const HUB_TOKEN = 'redosHubToken-0123456789abcdefghijklmnopqrstu';
const HOSTILE = String.raw`regex:^(\w+)+$`;
/** 39 word characters and one that is not: the worst case for a backtracking `^(\w+)+$`. */
const ALMOST = `${'a'.repeat(39)}-`;
/** 40 word characters: matches. */
const MATCHING = 'b'.repeat(40);
/** Far above what RE2 needs, far below what backtracking would (hours). */
const ANSWERED_WITHIN_MS = 10_000;

// Given shop/victim (acme/app, annotated with the hostile regex policy) and shop/web (acme/web,
// default policy), the five services as processes, ingest with a Docker Hub endpoint.
describe('a catastrophic-backtracking tag policy stalls nothing', () => {
  const sandbox = useSandbox(['nats', 'kube'], 'security-redos');
  let kube: KubeClients;
  let ingest = '';
  let logs: string[] = [];
  let stop: () => Promise<unknown>;

  beforeAll(async () => {
    kube = kubeClients(loadKubeConfig(sandbox().need('kube').kubeconfigPath));
    await kube.core.createNamespace({ body: { metadata: { name: 'shop' } } });
    const victim = deployment('victim', 'acme/app:1.0');
    victim.metadata = { ...victim.metadata, annotations: { [ANNOTATIONS.policy]: HOSTILE } };
    await kube.apps.createNamespacedDeployment({ namespace: 'shop', body: victim });
    await kube.apps.createNamespacedDeployment({
      namespace: 'shop',
      body: deployment('web', 'acme/web:1.0'),
    });
    const pipeline = await startPipeline(sandbox(), {
      ingest: {
        PUBSUB_PULL: 'false',
        PUBSUB_CREATE_SUBSCRIPTION: 'false',
        WEBHOOKS: JSON.stringify([
          { name: 'hub', source: 'dockerhub', auth: { type: 'path', secretEnv: 'HUB_TOKEN' } },
        ]),
        HUB_TOKEN,
      },
    });
    ingest = `http://127.0.0.1:${pipeline.ports.ingest}`;
    logs = pipeline.logs;
    stop = () => pipeline.supervisor.stop();
  });

  afterAll(async () => {
    await stop?.();
  });

  /** POSTs a Docker Hub push of `repo:tag`; the event id ingest answered. */
  async function push(repo: string, tag: string): Promise<string> {
    const body = JSON.stringify({
      callback_url: `https://registry.hub.docker.com/u/${repo}/hook/1/`,
      push_data: { pushed_at: Math.floor(Date.now() / 1000), pusher: 'ci', tag },
      repository: {
        repo_name: repo,
        namespace: 'acme',
        name: repo.split('/')[1],
        status: 'Active',
      },
    });
    const res = await fetch(`${ingest}/webhooks/hub/${HUB_TOKEN}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body,
    });
    expect(res.status).toBe(202);
    return ((await res.json()) as { eventId: string }).eventId;
  }

  /** The outcomes of `eventId` once one of them satisfies `done`, within ANSWERED_WITHIN_MS. */
  async function answered(eventId: string, done: (o: Outcome) => boolean): Promise<Outcome[]> {
    let outcomes: Outcome[] = [];
    await eventually(
      `an answer for ${eventId}`,
      async () => {
        outcomes = await outcomesOf(sandbox().need('nats').url, eventId);
        return outcomes.some(done);
      },
      { timeoutMs: ANSWERED_WITHIN_MS, intervalMs: 50 },
    ).catch((error: unknown) => {
      throw new Error(
        `${String(error)}; outcomes ${JSON.stringify(outcomes)}\n${logs.slice(-30).join('\n')}`,
      );
    });
    return outcomes;
  }

  const template = async (name: string) =>
    (await kube.apps.readNamespacedDeployment({ namespace: 'shop', name })).spec?.template;

  it('answers an almost-matching 40-character tag at once, and the next push is not held up', async () => {
    // When a tag that almost matches the hostile pattern is pushed, then the other team's image
    const hostile = await push('acme/app', ALMOST);
    const innocent = await push('acme/web', '1.0');

    // Then the hostile push ends at once: the tag does not match, nothing is restarted
    const outcomes = await answered(hostile, () => true);
    expect(outcomes.map((o) => o.fate)).toEqual(['no-match']);
    expect((await template('victim'))?.spec?.containers[0]?.image).toBe('acme/app:1.0');
    // and the push right behind it restarts shop/web
    await answered(innocent, (o) => o.fate === 'restarted');
    expect((await template('web'))?.metadata?.annotations?.[ANNOTATIONS.eventId]).toBe(innocent);
  });

  it('moves the workload to a 40-character tag the pattern matches: both stages apply it', async () => {
    const eventId = await push('acme/app', MATCHING);
    await answered(eventId, (o) => o.fate === 'restarted');
    const victim = await template('victim');
    expect(victim?.spec?.containers[0]?.image).toBe(`acme/app:${MATCHING}`);
    expect(victim?.metadata?.annotations?.[ANNOTATIONS.eventId]).toBe(eventId);
  });
});
