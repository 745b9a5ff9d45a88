import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TOPOLOGY } from '@onpush/contracts';
import { Supervisor } from '@onpush/cli';
import { connectNats, jetstreamManager, provision } from '@onpush/nats';
import { freePort, waitUntil } from '@onpush/sandbox';
import { useSandbox } from '@onpush/testing';

// Given ingest as a process with METRICS_PORT set: its public port (webhooks, Pub/Sub push) does
// not serve /metrics, the metrics port does.
describe('ingest: /metrics off the public port (METRICS_PORT)', () => {
  const sandbox = useSandbox(['nats'], 'ingest-metrics');
  let supervisor: Supervisor | undefined;
  let publicBase = '';
  let metricsBase = '';
  const logs: string[] = [];

  beforeAll(async () => {
    const nc = await connectNats({ url: sandbox().need('nats').url, name: 'onpush-test' });
    await provision(await jetstreamManager(nc), TOPOLOGY);
    await nc.close();
    const [port, metricsPort] = [await freePort(), await freePort()];
    publicBase = `http://127.0.0.1:${port}`;
    metricsBase = `http://127.0.0.1:${metricsPort}`;
    supervisor = new Supervisor({
      env: { ...process.env, ...sandbox().env, LOG_LEVEL: 'info' },
      envFor: () => ({
        PORT: String(port),
        METRICS_PORT: String(metricsPort),
        PUBSUB_PULL: 'false',
      }),
      services: ['ingest'],
      write: (line) => logs.push(line),
    });
    supervisor.start();
    await waitUntil('ingest ready', async () => (await fetch(`${publicBase}/readyz`)).ok, {
      timeoutMs: 60_000,
      intervalMs: 100,
    }).catch((error: unknown) => {
      throw new Error(`${String(error)}\n${logs.slice(-30).join('\n')}`);
    });
  });

  afterAll(async () => {
    await supervisor?.stop();
  });

  it('answers /metrics on METRICS_PORT only; health stays on PORT', async () => {
    expect((await fetch(`${publicBase}/metrics`)).status).toBe(404);
    const metrics = await fetch(`${metricsBase}/metrics`);
    expect(metrics.status).toBe(200);
    expect(await metrics.text()).toContain('onpush_ready 1');
    expect((await fetch(`${publicBase}/healthz`)).status).toBe(200);
    expect((await fetch(`${metricsBase}/healthz`)).status).toBe(404);
  });
});
