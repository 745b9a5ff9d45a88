// The restarter alone as a process against a sandbox's nats-server and kube-apiserver, fed restart
// requests published by the test as the resolver would: for the tests of what the restarter does
// with a request whoever sent it (refusals, holds).
import { HEADERS, TOPOLOGY, encode, restartSubject, type Outcome } from '@onpush/contracts';
import type { RestartRequest } from '@onpush/contracts';
import { Supervisor } from '@onpush/cli';
import {
  connectNats,
  jetstream,
  jetstreamManager,
  provision,
  publisher,
  type NatsConnection,
} from '@onpush/nats';
import { freePort, waitUntil, type Sandbox } from '@onpush/sandbox';
import { eventually } from '@onpush/testing';
import { readOutcomes } from '../e2e/pipeline.js';

export interface RestarterProcess {
  readonly nc: NatsConnection;
  readonly supervisor: Supervisor;
  /** `/metrics` of the process. */
  readonly metricsUrl: string;
  /**
   * Publishes a restart request on its namespace's subject, as the resolver does (`msgId`: another
   * de-duplication id, for a late copy of the same request; `headers`: more, e.g. a traceparent).
   */
  send(request: RestartRequest, msgId?: string, headers?: Record<string, string>): Promise<void>;
  /** The first outcome stored for `eventId` (waits up to `timeoutMs`; the last log lines if none). */
  outcomeOf(eventId: string, timeoutMs?: number): Promise<Outcome>;
  /** The process's last log lines (for a failure's message). */
  logs(lines?: number): string;
  /**
   * Kills the restarter with SIGKILL (its supervisor starts it again) and, with `nats`, kills
   * nats-server too and starts it again on its store.
   */
  crash(options?: { nats?: boolean }): Promise<void>;
  stop(): Promise<void>;
}

/** Provisions the topology and starts the restarter with `env` over the sandbox's; resolves once ready. */
export async function startRestarter(
  sandbox: Sandbox,
  env: Record<string, string> = {},
): Promise<RestarterProcess> {
  const nc = await connectNats({ url: sandbox.need('nats').url, name: 'onpush-test' });
  await provision(await jetstreamManager(nc), TOPOLOGY);
  const port = await freePort();
  const logs: string[] = [];
  const supervisor = new Supervisor({
    env: { ...process.env, ...sandbox.env, LOG_LEVEL: 'info' },
    envFor: () => ({ PORT: String(port), COALESCE_WINDOW: '0', ...env }),
    services: ['restarter'],
    write: (line) => logs.push(line),
  });
  supervisor.start();
  await waitUntil(
    'restarter ready',
    async () => (await fetch(`http://127.0.0.1:${port}/readyz`)).ok,
    { timeoutMs: 60_000, intervalMs: 100 },
  );
  return {
    nc,
    supervisor,
    metricsUrl: `http://127.0.0.1:${port}/metrics`,
    async send(request, msgId, extra) {
      const { kind, namespace, name } = request.workload;
      await publisher(jetstream(nc))(restartSubject(namespace), encode(request), {
        msgId: msgId ?? `${request.eventId}:${kind}/${namespace}/${name}`,
        headers: {
          [HEADERS.eventId]: request.eventId,
          [HEADERS.workloadKind]: kind,
          [HEADERS.workloadNamespace]: namespace,
          [HEADERS.workloadName]: name,
          ...extra,
        },
      });
    },
    outcomeOf: (eventId, timeoutMs = 20_000) =>
      eventually(
        `the outcome of ${eventId}`,
        async () => (await readOutcomes(nc)).find((o) => o.eventId === eventId),
        { timeoutMs },
      ).catch((e: unknown) => {
        throw new Error(`${String(e)}\n${logs.slice(-20).join('\n')}`);
      }),
    logs: (lines = 20) => logs.slice(-lines).join('\n'),
    async crash(options = {}) {
      process.kill(supervisor.pid('restarter')!, 'SIGKILL');
      if (!options.nats) return;
      const nats = sandbox.need('nats');
      await nats.kill();
      await new Promise((resolve) => setTimeout(resolve, 500));
      await nats.start();
    },
    async stop() {
      await supervisor.stop();
      await nc.close();
    },
  };
}
