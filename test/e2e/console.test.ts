import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { RbacAuthorizationV1Api } from '@kubernetes/client-node';
import { chromium, type Browser, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  ANNOTATIONS,
  kubeClients,
  loadKubeConfig,
  type KubeClients,
  type V1Deployment,
} from '@onpush/kube';
import type { Push } from '@onpush/console';
import { freePort } from '@onpush/sandbox';
import { eventually, useSandbox } from '@onpush/testing';
import { onpushConsole } from '../support/cli.js';
import { deployment, grantRestarter, restarterIdentity } from '../support/kube.js';
import { PUSH_PATH, pushEnv, pushHeaders } from '../support/pubsub-push.js';
import { REPO, digest } from './cluster-fixtures.js';
import { startPipeline, writeTokenKubeconfig, type Pipeline } from './pipeline.js';
import { SERVICES } from '@onpush/cli';

/** Debian's chromium (scripts/install-browser.sh); playwright-core never downloads a browser. */
const CHROMIUM = process.env['CHROMIUM_BIN'] ?? '/usr/bin/chromium';
const SHOTS = fileURLToPath(new URL('../../docs/console/', import.meta.url));
const TRACE_URL = 'http://jaeger.test:16686/trace/{traceId}';

/** One Pub/Sub push to ingest's push endpoint, carrying a trace context; its event id. */
async function push(
  ingest: number,
  body: Record<string, unknown>,
  traceId: string,
): Promise<{ eventId: string }> {
  const messageId = `console-${randomBytes(4).toString('hex')}`;
  const envelope = {
    message: {
      data: Buffer.from(JSON.stringify(body)).toString('base64'),
      messageId,
      publishTime: new Date().toISOString(),
      attributes: { traceparent: `00-${traceId}-${'1'.repeat(16)}-01` },
    },
    subscription: 'projects/p/subscriptions/onpush-push',
  };
  const res = await fetch(`http://127.0.0.1:${ingest}${PUSH_PATH}`, {
    method: 'POST',
    headers: pushHeaders(),
    body: JSON.stringify(envelope),
  });
  expect(res.status).toBe(204);
  return { eventId: `gar:${messageId}` };
}

// Given two opted-in Deployments — shop/web, which the restarter may restart, and locked/api,
// which it may not yet — the five services as processes against real NATS and a kube-apiserver,
// the dlq-manager serving the console on its admin port behind the admin token, and Debian's
// chromium driven by playwright-core.
describe('console: every push followed to its workloads, in a real browser', () => {
  const sandbox = useSandbox(['nats', 'kube'], 'console');
  let kube: KubeClients;
  let rbac: RbacAuthorizationV1Api;
  let pipeline: Pipeline;
  let stopped = false;
  let browser: Browser;
  let page: Page;
  let base = '';
  /** The other dlq-manager replica's console. */
  let secondBase = '';

  beforeAll(async () => {
    if (!existsSync(CHROMIUM)) {
      throw new Error(
        `${CHROMIUM} is missing: run scripts/install-browser.sh (or set CHROMIUM_BIN)`,
      );
    }
    const config = loadKubeConfig(sandbox().need('kube').kubeconfigPath);
    kube = kubeClients(config);
    rbac = config.makeApiClient(RbacAuthorizationV1Api);
    for (const ns of ['onpush', 'shop', 'locked'])
      await kube.core.createNamespace({ body: { metadata: { name: ns } } });
    const create = (ns: string, d: V1Deployment) =>
      kube.apps.createNamespacedDeployment({ namespace: ns, body: d });
    const web = deployment('web', `${REPO}/web:1.0`);
    web.metadata!.annotations = { 'onpush.dev/containers': 'app' };
    await create('shop', web);
    await create('locked', deployment('api', `${REPO}/api:1.0`));
    const token = await restarterIdentity(kube, rbac, ['shop']);
    // Two replicas of every stage; each dlq-manager serves the console on its own port.
    pipeline = await startPipeline(
      sandbox(),
      {
        restarter: { KUBECONFIG: writeTokenKubeconfig(sandbox(), 'restarter', token) },
        ingest: pushEnv(),
        'dlq-manager': { CONSOLE_TRACE_URL: TRACE_URL },
      },
      { parser: 2, resolver: 2, restarter: 2, 'dlq-manager': 2 },
    );
    const [first, second] = pipeline.replicaPorts['dlq-manager'];
    base = `http://127.0.0.1:${first}`;
    secondBase = `http://127.0.0.1:${second}`;
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      headless: true,
      // As root (CI, containers) chromium's own sandbox cannot start.
      args: ['--no-sandbox', '--disable-dev-shm-usage'],
    });
    page = await browser.newPage({ viewport: { width: 1280, height: 760 } });
    mkdirSync(SHOTS, { recursive: true });
  });

  afterAll(async () => {
    await browser?.close();
    if (!stopped) await pipeline?.supervisor.stop();
  });

  const shot = (name: string) => page.screenshot({ path: `${SHOTS}${name}.png` });
  const restartedAt = async (namespace: string, name: string) => {
    const d = await kube.apps.readNamespacedDeployment({ namespace, name });
    return d.spec?.template.metadata?.annotations?.[ANNOTATIONS.restartedAt];
  };

  it('answers 401 to every API request without the right token, the live stream too, and the page asks for one', async () => {
    const wrong = { authorization: `Bearer ${pipeline.adminToken}x` };
    for (const path of [
      'pushes',
      'pushes/stream',
      'health',
      'config',
      'dlq',
      'workloads/Deployment/shop/web',
    ]) {
      for (const headers of [{}, wrong]) {
        const res = await fetch(`${base}/console/api/${path}`, { headers });
        expect(res.status, path).toBe(401);
        expect(res.headers.get('www-authenticate')).toBe('Bearer realm="onpush"');
      }
    }
    const replay = await fetch(`${base}/console/api/dlq/1/replay`, { method: 'POST' });
    expect(replay.status).toBe(401);
    // The page itself holds no data and is served without a token; it asks for one.
    const shell = await fetch(`${base}/console/`);
    expect(shell.status).toBe(200);
    expect(shell.headers.get('content-security-policy')).toContain("default-src 'self'");
    await page.goto(`${base}/console/`);
    await page.getByTestId('signin').waitFor();
    await page.fill('input[name=token]', 'not-the-token-0123456789');
    await page.click('button[type=submit]');
    await page.getByText('That token was refused.').waitFor();
    await shot('sign-in');
  });

  it('shows a push made now live, with its fate per workload, the time to the PATCH and its trace', async () => {
    await page.fill('input[name=token]', pipeline.adminToken);
    await page.click('button[type=submit]');
    await page.getByTestId('live').filter({ hasText: 'live' }).waitFor();
    const before = await restartedAt('shop', 'web');

    const traceId = randomBytes(16).toString('hex');
    const { eventId } = await push(
      pipeline.ports.ingest,
      { action: 'INSERT', digest: `${REPO}/web@${digest(1)}`, tag: `${REPO}/web:1.0` },
      traceId,
    );

    // It appears without a reload: the page reads the server's event stream.
    const row = page.locator(`tr[data-event-id="${eventId}"]`);
    await row.locator('[data-fate=dispatched]').waitFor({ timeout: 30_000 });
    await expect(row.locator('td').nth(2).textContent()).resolves.toBe('gar');
    expect(await row.locator('td.image').textContent()).toBe(`${REPO}/web`);
    expect(await row.getByText('trace').getAttribute('href')).toBe(
      TRACE_URL.replace('{traceId}', traceId),
    );
    await row.getByText('1 restarted').waitFor({ timeout: 30_000 });
    await shot('pushes');
    await row.click();
    const workloads = page.getByTestId('push-workloads');
    const web = workloads.locator('tr', { hasText: 'Deployment/shop/web' });
    await web.locator('[data-fate=restarted]').waitFor();
    expect(await web.locator('td').nth(4).textContent()).toMatch(/^\d+(\.\d)? (ms|s)$/);
    expect(await restartedAt('shop', 'web')).not.toBe(before);
    await shot('push-expanded');

    // Any replica answers alike: the other dlq-manager follows the same stream.
    const elsewhere = await eventually("the push in the other replica's console", async () => {
      const res = await fetch(`${secondBase}/console/api/pushes`, {
        headers: { authorization: `Bearer ${pipeline.adminToken}` },
      });
      const { pushes } = (await res.json()) as { pushes: Push[] };
      const found = pushes.find((p) => p.eventId === eventId);
      return found?.workloads.some((w) => w.fate === 'restarted') ? found : undefined;
    });
    expect(
      elsewhere.workloads.map((w) => `${w.workload.namespace}/${w.workload.name} ${w.fate}`),
    ).toEqual(['shop/web restarted']);

    // The workload's own view: its restarts and the digest it now runs.
    await web.getByText('Deployment/shop/web').click();
    const view = page.getByTestId('workload');
    await view.getByText('Deployment shop/web').waitFor();
    await view.locator('[data-fate=restarted]').first().waitFor();
    await view.getByTestId('digests').getByText(digest(1)).waitFor();
    // and how onpush reads it: the resolver's watch view (the dlq-manager reads no Kubernetes),
    // its mark already the pushed digest
    const asRead = view.getByTestId('as-read');
    await asRead.getByText('onpush.dev/containers').waitFor();
    await asRead.getByText('onpush.dev/enabled').waitFor();
    await asRead.getByText(ANNOTATIONS.digest).waitFor();
    await asRead.getByText(digest(1)).waitFor();
  });

  it('replays a dead letter from the page, after a confirmation, and its workload restarts', async () => {
    // A restart the restarter may not do (403 on locked/api) ends in the DLQ.
    const { eventId } = await push(
      pipeline.ports.ingest,
      { action: 'INSERT', digest: `${REPO}/api@${digest(2)}`, tag: `${REPO}/api:1.0` },
      randomBytes(16).toString('hex'),
    );
    await page.goto(`${base}/console/#/pushes`);
    const pushRow = page.locator(`tr[data-event-id="${eventId}"]`);
    await pushRow.getByText('1 dead').waitFor({ timeout: 30_000 });

    await page.goto(`${base}/console/#/dlq`);
    const entry = page.locator('tr.entry-row', { hasText: 'http_403' });
    await entry.waitFor({ timeout: 30_000 });
    expect(await entry.locator('td').nth(1).textContent()).toBe('restarter');
    await entry.click();
    const payload = page.getByTestId('dlq-payload');
    await payload.getByText(`"eventId": "${eventId}"`).waitFor();
    await shot('dead-letters');

    // The permission is granted; the operator replays the letter from the page.
    await grantRestarter(rbac, 'locked');
    const before = await restartedAt('locked', 'api');
    await entry.getByRole('button', { name: 'Replay' }).click();
    const confirm = page.getByTestId('confirm');
    await confirm.getByText(/Replay dead letter \d+ to onpush\.restart\.locked\?/).waitFor();
    await shot('dead-letters-confirm');
    await confirm.getByRole('button', { name: 'Confirm' }).click();
    await page
      .getByTestId('dlq-message')
      .getByText(/^replayed \d+/)
      .waitFor();
    await entry.locator('td').nth(6).getByText('1×').waitFor();

    await eventually('locked/api restarted by the replay', async () => {
      const now = await restartedAt('locked', 'api');
      return now !== undefined && now !== before;
    });
    const d = await kube.apps.readNamespacedDeployment({ namespace: 'locked', name: 'api' });
    expect(d.spec?.template.metadata?.annotations?.[ANNOTATIONS.digest]).toBe(digest(2));
    // And the push's row says so, live: dead, then restarted.
    await page.goto(`${base}/console/#/pushes`);
    await pushRow.getByText('1 restarted').waitFor({ timeout: 30_000 });
  });

  it('shows health as the dlq-manager sees it: consumer lag, DLQ depth, the last minute’s fates', async () => {
    await page.goto(`${base}/console/#/health`);
    const health = page.getByTestId('health');
    await health.getByTestId('consumers').getByText('restarter').first().waitFor();
    await health
      .getByTestId('dlq-depth')
      .getByText(/\d+ dead letters/)
      .waitFor();
    await health.getByText(/restarted \d+/).waitFor();
    // It answers for itself; the other services' URLs are not configured here.
    await health.locator('tr', { hasText: 'dlq-manager' }).getByText('yes').first().waitFor();
  });

  it('purges the dead letters a filter selects, after a confirmation', async () => {
    const listed = async (query: string) => {
      const res = await fetch(`${base}/console/api/dlq?${query}`, {
        headers: { authorization: `Bearer ${pipeline.adminToken}` },
      });
      expect(res.status).toBe(200);
      return ((await res.json()) as { entries: { id: number; reason: string }[] }).entries;
    };
    // the replayed 403 is still kept (a replay does not remove it)
    expect((await listed('reason=http_403')).length).toBe(1);
    await page.goto(`${base}/console/#/dlq`);
    await page.locator('tr.entry-row', { hasText: 'http_403' }).waitFor({ timeout: 30_000 });
    const purge = page.getByRole('button', { name: 'Purge matching' });
    // nothing selected yet: no purge of everything at once
    expect(await purge.isDisabled()).toBe(true);
    await page.locator('input[name="reason"]').fill('http_403');
    await page.getByRole('button', { name: 'Filter' }).click();
    await purge.click();
    const confirm = page.getByTestId('confirm');
    await confirm.getByText('Purge every dead letter matching reason=http_403?').waitFor();
    await confirm.getByRole('button', { name: 'Confirm' }).click();
    await page.getByTestId('dlq-message').getByText('purged 1').waitFor();
    await page.locator('tr.entry-row').waitFor({ state: 'detached' });
    expect(await listed('reason=http_403')).toEqual([]);
  });

  it('serves the same console locally with `onpush console`: workloads as Kubernetes has them, every service’s health', async () => {
    const port = await freePort();
    const token = randomBytes(24).toString('base64url');
    const urls = Object.fromEntries(
      SERVICES.map((s) => [
        `ONPUSH_${s.toUpperCase().replace('-', '_')}_URL`,
        `http://127.0.0.1:${pipeline.ports[s]}`,
      ]),
    );
    const child = await onpushConsole(
      {
        NATS_URL: sandbox().need('nats').url,
        KUBECONFIG: sandbox().need('kube').kubeconfigPath,
        ONPUSH_CONSOLE_TOKEN: token,
        CONSOLE_TRACE_URL: TRACE_URL,
        ...urls,
      },
      port,
    );
    try {
      const local = `http://127.0.0.1:${port}`;
      expect((await fetch(`${local}/console/api/pushes/stream`)).status).toBe(401);
      const other = await browser.newPage({ viewport: { width: 1280, height: 760 } });
      await other.goto(`${local}/console/#/workloads/Deployment/shop/web`);
      await other.fill('input[name=token]', token);
      await other.click('button[type=submit]');
      const view = other.getByTestId('workload');
      await view.locator('[data-fate=restarted]').first().waitFor({ timeout: 30_000 });
      await view.getByText('onpush.dev/containers').waitFor();
      await view.getByText('onpush.dev/enabled').waitFor();
      await view.getByText(ANNOTATIONS.digest).waitFor();
      await other.screenshot({ path: `${SHOTS}workload.png` });

      await other.goto(`${local}/console/#/health`);
      const health = other.getByTestId('health');
      for (const service of SERVICES) {
        await health.locator('tr', { hasText: service }).getByText('yes').first().waitFor();
      }
      await health.getByText(/\d+ workloads, \d+ images/).waitFor();
      await other.screenshot({ path: `${SHOTS}health.png` });
      await other.close();
    } finally {
      child.kill('SIGTERM');
    }
    const code = await new Promise((resolve) => child.once('exit', resolve));
    expect(code).toBe(0);
  });

  it('drains every service on SIGTERM, the console’s open streams included: each exits 0', async () => {
    // A stream left open by the page must not hold the dlq-manager's shutdown.
    await page.goto(`${base}/console/#/pushes`);
    await page.getByTestId('live').filter({ hasText: 'live' }).waitFor();
    stopped = true;
    expect(await pipeline.supervisor.stop()).toEqual({
      ingest: 0,
      parser: 0,
      resolver: 0,
      restarter: 0,
      'dlq-manager': 0,
    });
  });
});
