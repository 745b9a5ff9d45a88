import { createHmac } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ANNOTATIONS, kubeClients, loadKubeConfig, type KubeClients } from '@onpush/kube';
import { eventually, useSandbox } from '@onpush/testing';
import { deployment } from '../support/kube.js';
import { outcomesOf, startPipeline } from './pipeline.js';

const HUB_TOKEN = 'e2eHubToken-0123456789abcdefghijklmnopqrstuv';
const GH_SECRET = 'e2e-github-webhook-secret';
const DIGEST = `sha256:${'c3'.repeat(32)}`;

// Given two opted-in Deployments — one runs acme/web:1.0 from Docker Hub, one runs
// ghcr.io/acme/api:v2 — and the five services as processes, ingest with a Docker Hub endpoint
// (secret path token) and a GitHub endpoint (HMAC signature).
describe('webhooks end to end: a registry webhook restarts the Deployment that runs the image', () => {
  const sandbox = useSandbox(['nats', 'kube'], 'e2e-webhooks');
  let kube: KubeClients;
  let ingest = '';
  let logs: string[] = [];
  let stop: () => Promise<unknown>;

  beforeAll(async () => {
    kube = kubeClients(loadKubeConfig(sandbox().need('kube').kubeconfigPath));
    await kube.core.createNamespace({ body: { metadata: { name: 'shop' } } });
    for (const [name, image] of [
      ['web', 'acme/web:1.0'],
      ['api', 'ghcr.io/acme/api:v2'],
    ] as const)
      await kube.apps.createNamespacedDeployment({
        namespace: 'shop',
        body: deployment(name, image),
      });
    const webhooks = [
      { name: 'hub', source: 'dockerhub', auth: { type: 'path', secretEnv: 'HUB_TOKEN' } },
      { name: 'github', source: 'github', auth: { type: 'hmac', secretEnv: 'GH_SECRET' } },
    ];
    const pipeline = await startPipeline(sandbox(), {
      ingest: {
        PUBSUB_PULL: 'false',
        PUBSUB_CREATE_SUBSCRIPTION: 'false',
        WEBHOOKS: JSON.stringify(webhooks),
        HUB_TOKEN,
        GH_SECRET,
      },
    });
    ingest = `http://127.0.0.1:${pipeline.ports.ingest}`;
    logs = pipeline.logs;
    stop = () => pipeline.supervisor.stop();
  });

  afterAll(async () => {
    await stop?.();
  });

  const annotations = async (name: string) =>
    (await kube.apps.readNamespacedDeployment({ namespace: 'shop', name })).spec?.template.metadata
      ?.annotations ?? {};

  async function restarted(eventId: string): Promise<void> {
    await eventually(
      'the restarted outcome',
      async () =>
        (await outcomesOf(sandbox().need('nats').url, eventId)).some((o) => o.fate === 'restarted'),
      { timeoutMs: 30_000 },
    ).catch((e: unknown) => {
      throw new Error(`${String(e)}\n${logs.slice(-30).join('\n')}`);
    });
  }

  it('a Docker Hub push webhook restarts shop/web', async () => {
    // When Docker Hub calls the secret URL with its push payload.
    const body = JSON.stringify({
      callback_url: 'https://registry.hub.docker.com/u/acme/web/hook/1/',
      push_data: { pushed_at: Math.floor(Date.now() / 1000), pusher: 'ci', tag: '1.0' },
      repository: { repo_name: 'acme/web', namespace: 'acme', name: 'web', status: 'Active' },
    });
    const res = await fetch(`${ingest}/webhooks/hub/${HUB_TOKEN}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body,
    });
    expect(res.status).toBe(202);
    const { eventId } = (await res.json()) as { eventId: string };

    // Then the Deployment's pod template is annotated with that event: it was restarted.
    await restarted(eventId);
    expect((await annotations('web'))[ANNOTATIONS.eventId]).toBe(eventId);
    expect((await annotations('api'))[ANNOTATIONS.eventId]).toBeUndefined();
  });

  it('a signed GitHub package webhook restarts shop/api with the pushed digest', async () => {
    const body = JSON.stringify({
      action: 'published',
      package: {
        name: 'api',
        namespace: 'acme',
        package_type: 'CONTAINER',
        owner: { login: 'Acme' },
        package_version: {
          version: DIGEST,
          container_metadata: { tag: { name: 'v2', digest: DIGEST }, manifest: { digest: DIGEST } },
        },
      },
      sender: { login: 'Acme' },
    });
    const signature = `sha256=${createHmac('sha256', GH_SECRET).update(body).digest('hex')}`;
    const headers = {
      'content-type': 'application/json',
      'x-github-event': 'package',
      'x-github-delivery': 'e2e-delivery-1',
      'x-hub-signature-256': signature,
    };
    const res = await fetch(`${ingest}/webhooks/github`, { method: 'POST', headers, body });
    expect(res.status).toBe(202);
    expect(await res.json()).toMatchObject({ eventId: 'github:e2e-delivery-1' });

    await restarted('github:e2e-delivery-1');
    const annotated = await annotations('api');
    expect(annotated[ANNOTATIONS.digest]).toBe(DIGEST);
    expect(annotated[ANNOTATIONS.eventId]).toBe('github:e2e-delivery-1');
  });

  it('a GitHub webhook with a forged signature restarts nothing', async () => {
    const body = JSON.stringify({ action: 'published', package: { name: 'web' } });
    const headers = {
      'content-type': 'application/json',
      'x-github-event': 'package',
      'x-github-delivery': 'e2e-forged',
      'x-hub-signature-256': `sha256=${'0'.repeat(64)}`,
    };
    expect(
      (await fetch(`${ingest}/webhooks/github`, { method: 'POST', headers, body })).status,
    ).toBe(401);
    expect(await outcomesOf(sandbox().need('nats').url, 'github:e2e-forged')).toEqual([]);
  });
});
