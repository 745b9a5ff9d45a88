import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { RbacAuthorizationV1Api } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HEADERS, STREAMS, TOPOLOGY, rawSubject, type Stage } from '@onpush/contracts';
import { Supervisor, SERVICES, type AuditResult } from '@onpush/cli';
import { openDlqStore, type DlqEntry } from '@onpush/dlq';
import { ANNOTATIONS, kubeClients, loadKubeConfig, type KubeClients } from '@onpush/kube';
import {
  connectNats,
  jetstream,
  jetstreamManager,
  provision,
  publisher,
  type NatsConnection,
} from '@onpush/nats';
import { freePort, waitUntil } from '@onpush/sandbox';
import { deadLetterFor, incomingOf, publishAll } from '@onpush/service';
import { eventually, useSandbox } from '@onpush/testing';
import { writeTokenKubeconfig } from '../e2e/pipeline.js';
import { deployment, grantRestarter, restarterIdentity } from '../support/kube.js';

const REPO = 'europe-west1-docker.pkg.dev/p/r';
const DIGEST = `sha256:${'4'.repeat(64)}`;
const EVENT = 'gar:replay-1';
const cliMain = fileURLToPath(new URL('../../cli/dist/main.js', import.meta.url));

/** As the parser would after giving up on a delivery: its dead letter and `dead` outcome. */
async function parserGaveUp(nc: NatsConnection): Promise<void> {
  const js = jetstream(nc);
  const body = { action: 'INSERT', digest: `${REPO}/locked@${DIGEST}`, tag: `${REPO}/locked:2.0` };
  await publisher(js)(rawSubject('gar'), new TextEncoder().encode(JSON.stringify(body)), {
    msgId: EVENT,
    headers: {
      [HEADERS.eventId]: EVENT,
      [HEADERS.source]: 'gar',
      [HEADERS.receivedAt]: new Date().toISOString(),
      traceparent: `00-${'5'.repeat(32)}-${'6'.repeat(16)}-01`,
    },
  });
  const m = await (await js.consumers.get(STREAMS.main, 'parser')).next({ expires: 5_000 });
  if (!m) throw new Error('the raw delivery did not arrive');
  const failure = { type: 'internal_error', message: 'parser kept crashing', retryable: true };
  await publishAll(publisher(js), deadLetterFor('parser', incomingOf(m), failure, STREAMS.main));
  await m.ackAck();
}

// Given a Deployment in namespace `locked` the restarter may not patch, a delivery the parser
// gave up on, and parser, resolver and restarter running as processes.
describe('replay: a replayed event that fails again comes back linked to its first entry', () => {
  const sandbox = useSandbox(['nats', 'kube'], 'reliability-replay');
  let kube: KubeClients;
  let rbac: RbacAuthorizationV1Api;
  let supervisor: Supervisor | undefined;
  let nc: NatsConnection;
  const logs: string[] = [];

  beforeAll(async () => {
    const config = loadKubeConfig(sandbox().need('kube').kubeconfigPath);
    kube = kubeClients(config);
    rbac = config.makeApiClient(RbacAuthorizationV1Api);
    for (const ns of ['onpush', 'locked'])
      await kube.core.createNamespace({ body: { metadata: { name: ns } } });
    await kube.apps.createNamespacedDeployment({
      namespace: 'locked',
      body: deployment('api', `${REPO}/locked:2.0`),
    });
    const token = await restarterIdentity(kube, rbac, []);
    nc = await connectNats({ url: sandbox().need('nats').url, name: 'onpush-test' });
    await provision(await jetstreamManager(nc), TOPOLOGY);
    await parserGaveUp(nc);
    const ports = {} as Record<(typeof SERVICES)[number], number>;
    for (const s of SERVICES) ports[s] = await freePort();
    supervisor = new Supervisor({
      env: { ...process.env, ...sandbox().env, LOG_LEVEL: 'info' },
      envFor: (service) => ({
        PORT: String(ports[service]),
        ...(service === 'restarter'
          ? {
              KUBECONFIG: writeTokenKubeconfig(sandbox(), 'restarter', token),
              COALESCE_WINDOW: '100ms',
            }
          : {}),
      }),
      services: ['parser', 'resolver', 'restarter'],
      write: (line) => logs.push(line),
    });
    supervisor.start();
    for (const s of ['parser', 'resolver', 'restarter'] as const)
      await waitUntil(
        `${s} ready`,
        async () => (await fetch(`http://127.0.0.1:${ports[s]}/readyz`)).ok,
        {
          timeoutMs: 60_000,
          intervalMs: 100,
        },
      );
  });

  afterAll(async () => {
    await supervisor?.stop();
    await nc?.close();
  });

  const entries = async (stage: Stage): Promise<DlqEntry[]> => {
    const { entries: found } = await (await openDlqStore(nc)).list({ stage });
    return Promise.all(found.map(async (e) => (await openDlqStore(nc)).get(e.id)));
  };

  it('flows Onpush-Replay-Of through every stage into the new dead letter, then restarts on the next replay', async () => {
    const [parserEntry] = await entries('parser');
    expect(parserEntry).toMatchObject({ reason: 'max_deliveries', subject: 'onpush.raw.gar' });

    // When the parser's entry is replayed: parser → resolver → restarter, which is refused (403).
    await onpush(['dlq', 'replay', String(parserEntry!.id)]);
    const [restarterEntry] = await eventually(
      'the restarter dead letter',
      async () => {
        const found = await entries('restarter');
        return found.length ? found : undefined;
      },
      { timeoutMs: 30_000 },
    ).catch((e: unknown) => {
      throw new Error(`${String(e)}\n${logs.slice(-30).join('\n')}`);
    });

    // Then it is a new entry, linked to the one replayed, carrying the link in its headers too.
    expect(restarterEntry).toMatchObject({
      stage: 'restarter',
      reason: 'http_403',
      replayOf: String(parserEntry!.id),
      subject: 'onpush.restart.locked',
    });
    expect(restarterEntry!.headers[HEADERS.replayOf]).toBe(String(parserEntry!.id));
    expect(restarterEntry!.headers[HEADERS.eventId]).toBe(EVENT);
    expect((await entries('parser'))[0]?.replayedAt).toBeTruthy();
    expect(await audit([])).toMatchObject({ code: 0, report: { events: 1, unaccounted: [] } });

    // When the permission is granted and the restarter's entries are replayed by filter.
    await grantRestarter(rbac, 'locked');
    await onpush(['dlq', 'replay', '--stage', 'restarter', '--reason', 'http_403']);
    await eventually(
      'the workload restarted',
      async () => {
        const d = await kube.apps.readNamespacedDeployment({ namespace: 'locked', name: 'api' });
        return d.spec?.template.metadata?.annotations?.[ANNOTATIONS.digest] === DIGEST;
      },
      { timeoutMs: 30_000 },
    );

    // Then the audit counts the event and its request once each, both dead letters resolved.
    const settled = await eventually('a settled audit', async () => {
      const result = await audit([]);
      return result.report.inFlight.length === 0 ? result : undefined;
    });
    expect(settled).toMatchObject({
      code: 0,
      report: {
        events: 1,
        requests: 1,
        accounted: { pushes: 1, requests: 1 },
        resolvedByReplay: 2,
        unaccounted: [],
      },
    });
  });

  it('exits 1 and names the event when a fate is doubled', async () => {
    const outcome = {
      v: 1,
      eventId: EVENT,
      fate: 'ignored',
      stage: 'parser',
      reason: 'forged',
      at: new Date().toISOString(),
    };
    await publisher(jetstream(nc))(
      'onpush.outcome.ignored',
      new TextEncoder().encode(JSON.stringify(outcome)),
      {
        msgId: `${EVENT}:ignored`,
      },
    );
    const { code, report } = await audit(['--since', '1h']);
    expect(code).toBe(1);
    expect(report.unaccounted).toMatchObject([{ kind: 'duplicate_fate', eventId: EVENT }]);
  });

  async function audit(args: string[]): Promise<{ code: number; report: AuditResult }> {
    const { code, stdout } = await run(['audit', '--json', ...args]);
    return { code, report: JSON.parse(stdout) as AuditResult };
  }

  async function onpush(args: string[]): Promise<string> {
    const { code, stdout, stderr } = await run(args);
    if (code !== 0) throw new Error(`onpush ${args.join(' ')} exited ${code}: ${stderr}`);
    return stdout;
  }

  function run(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
    return new Promise((resolve) => {
      execFile(
        process.execPath,
        [cliMain, ...args],
        { env: { ...process.env, NATS_URL: sandbox().need('nats').url }, timeout: 30_000 },
        (error, stdout, stderr) => {
          const code = error ? (typeof error.code === 'number' ? error.code : 1) : 0;
          resolve({ code, stdout, stderr });
        },
      );
    });
  }
});
