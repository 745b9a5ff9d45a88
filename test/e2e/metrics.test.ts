import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { PubSub, type Topic } from '@google-cloud/pubsub';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SERVICES, type ServiceName } from '@onpush/cli';
import { kubeClients, loadKubeConfig } from '@onpush/kube';
import { parsePrometheusText, sampleValue, type Sample } from '@onpush/telemetry';
import { eventually, useSandbox } from '@onpush/testing';
import { deployment } from '../support/kube.js';
import { REPO, digest } from './cluster-fixtures.js';
import { outcomesOf, startPipeline } from './pipeline.js';

const cliMain = fileURLToPath(new URL('../../cli/dist/main.js', import.meta.url));
const TRACE_ID = '5c1c63257de34c67b0a4d3d1b2a0ce42';

// Given Deployments shop/web (…/app:1.1) and shop/other (…/other:1.0), the five services as
// processes with no OTLP endpoint set, against real NATS, the Pub/Sub emulator and a
// kube-apiserver; when four known events are pushed — a push that restarts web, a DELETE, a push
// nobody runs, and garbage — then every service's /metrics shows exactly what happened.
describe('metrics: every service tells what happened, in Prometheus terms', () => {
  const sandbox = useSandbox(['nats', 'pubsub', 'kube'], 'metrics');
  let topic: Topic;
  let pubsub: PubSub;
  let stop: (() => Promise<unknown>) | undefined;
  let logs: string[] = [];
  let ports = {} as Record<ServiceName, number>;
  const events: string[] = [];

  beforeAll(async () => {
    const kube = kubeClients(loadKubeConfig(sandbox().need('kube').kubeconfigPath));
    for (const ns of ['onpush', 'shop'])
      await kube.core.createNamespace({ body: { metadata: { name: ns } } });
    for (const [name, image] of [
      ['web', `${REPO}/app:1.1`],
      ['other', `${REPO}/other:1.0`],
    ] as const) {
      await kube.apps.createNamespacedDeployment({
        namespace: 'shop',
        body: deployment(name, image),
      });
    }
    const pipeline = await startPipeline(sandbox());
    logs = pipeline.logs;
    ports = pipeline.ports;
    stop = () => pipeline.supervisor.stop();
    pubsub = new PubSub({
      projectId: sandbox().pubsubProject,
      apiEndpoint: sandbox().need('pubsub').host,
      emulatorMode: true,
    });
    topic = pubsub.topic('gcr');
    const publish = async (body: unknown, attributes: Record<string, string> = {}) => {
      const data = Buffer.from(typeof body === 'string' ? body : JSON.stringify(body));
      events.push(`gar:${await topic.publishMessage({ data, attributes })}`);
    };
    await publish({ action: 'INSERT', digest: `${REPO}/app@${digest(1)}`, tag: `${REPO}/app:1.1` });
    await publish({ action: 'DELETE', tag: `${REPO}/app:1.1` });
    await publish({ action: 'INSERT', tag: `${REPO}/nobody:1.0` });
    await publish('not json', { traceparent: `00-${TRACE_ID}-00f067aa0ba902b7-01` });
    const expected = [['dispatched', 'restarted'], ['ignored'], ['no-match'], ['dead']];
    for (const [i, eventId] of events.entries()) {
      await eventually(`the fates of ${eventId}`, async () => {
        const fates = (await outcomesOf(sandbox().need('nats').url, eventId)).map((o) => o.fate);
        return fates.sort().join() === expected[i]?.join();
      }).catch((error: unknown) => {
        throw new Error(`${String(error)}\n${logs.slice(-30).join('\n')}`);
      });
    }
  });

  afterAll(async () => {
    await pubsub?.close();
    await stop?.();
  });

  const scrape = async (service: ServiceName): Promise<Sample[]> => {
    const res = await fetch(`http://127.0.0.1:${ports[service]}/metrics`);
    expect(res.headers.get('content-type')).toMatch(/^text\/plain/);
    return parsePrometheusText(await res.text());
  };

  /** Waits until the consumer's lag, read from JetStream at scrape time, is back to zero. */
  const settled = (service: ServiceName, consumer: string) =>
    eventually(`${consumer} drained`, async () => {
      const samples = await scrape(service);
      const pending = sampleValue(samples, 'onpush_consumer_pending_messages', { consumer });
      const ack = sampleValue(samples, 'onpush_consumer_ack_pending_messages', { consumer });
      const reported = samples.some((s) => s.name === 'onpush_consumer_pending_messages');
      return reported && pending === 0 && ack === 0 ? samples : undefined;
    });

  it('ingest: events received by source, Pub/Sub acks, handling latency', async () => {
    const m = await scrape('ingest');
    expect(sampleValue(m, 'onpush_events_received_total', { source: 'gar' })).toBe(4);
    expect(sampleValue(m, 'onpush_ingest_pubsub_settled_total', { action: 'ack' })).toBe(4);
    expect(sampleValue(m, 'onpush_ingest_pubsub_settled_total', { action: 'nack' })).toBe(0);
    expect(sampleValue(m, 'onpush_handling_duration_seconds_count', { stage: 'ingest' })).toBe(4);
    expect(sampleValue(m, 'onpush_ready')).toBe(1);
    expect(m.some((s) => s.name === 'process_cpu_user_seconds_total')).toBe(true);
    expect(m.some((s) => s.name === 'nodejs_eventloop_lag_seconds')).toBe(true);
  });

  it('parser: results and fates, handling histogram, its consumer drained', async () => {
    const m = await settled('parser', 'parser');
    expect(sampleValue(m, 'onpush_messages_total', { stage: 'parser', result: 'acked' })).toBe(3);
    expect(sampleValue(m, 'onpush_messages_total', { stage: 'parser', result: 'dead' })).toBe(1);
    expect(sampleValue(m, 'onpush_handling_duration_seconds_count', { stage: 'parser' })).toBe(4);
    expect(
      sampleValue(m, 'onpush_handling_duration_seconds_bucket', { stage: 'parser', le: '+Inf' }),
    ).toBe(4);
    expect(sampleValue(m, 'onpush_fates_total', { fate: 'ignored' })).toBe(1);
    expect(sampleValue(m, 'onpush_fates_total', { fate: 'dead' })).toBe(1);
  });

  it('resolver: fates, index size, rebuilds', async () => {
    const m = await settled('resolver', 'resolver');
    expect(sampleValue(m, 'onpush_handling_duration_seconds_count', { stage: 'resolver' })).toBe(2);
    expect(sampleValue(m, 'onpush_fates_total', { fate: 'dispatched' })).toBe(1);
    expect(sampleValue(m, 'onpush_fates_total', { fate: 'no-match' })).toBe(1);
    expect(sampleValue(m, 'onpush_resolver_index_size', { what: 'workloads' })).toBe(2);
    expect(sampleValue(m, 'onpush_resolver_index_size', { what: 'images' })).toBe(2);
    expect(m.filter((s) => s.name === 'onpush_resolver_index_rebuilds_total')).toHaveLength(1);
  });

  it('restarter: the restart, its push-to-restart time, its API calls', async () => {
    const m = await settled('restarter', 'restarter');
    expect(sampleValue(m, 'onpush_fates_total', { fate: 'restarted' })).toBe(1);
    expect(sampleValue(m, 'onpush_push_to_restart_seconds_count')).toBe(1);
    expect(sampleValue(m, 'onpush_push_to_restart_seconds_sum')).toBeGreaterThan(0);
    expect(sampleValue(m, 'onpush_push_to_restart_seconds_bucket', { le: '+Inf' })).toBe(1);
    // One PATCH and no GET: the restarter decided on the resolver's watch view of the workload.
    expect(sampleValue(m, 'onpush_kube_requests_total', { verb: 'get' })).toBe(0);
    expect(sampleValue(m, 'onpush_kube_requests_total', { verb: 'patch', code: '200' })).toBe(1);
    expect(sampleValue(m, 'onpush_handling_duration_seconds_count', { stage: 'restarter' })).toBe(
      1,
    );
  });

  it('dlq-manager: the DLQ depth, oldest age, dead letters by stage and reason', async () => {
    const m = await settled('dlq-manager', 'dlq-manager');
    const depth = await eventually('DLQ depth 1', async () =>
      sampleValue(await scrape('dlq-manager'), 'onpush_dlq_depth') === 1 ? true : undefined,
    );
    expect(depth).toBe(true);
    expect(
      sampleValue(m, 'onpush_dead_letters_total', { stage: 'parser', reason: 'invalid_json' }),
    ).toBe(1);
    expect(m.some((s) => s.name === 'onpush_dlq_oldest_age_seconds')).toBe(true);
  });

  it('accounts for every event: event fates equal events received, workload fates equal requests', async () => {
    const all = await Promise.all(SERVICES.map(scrape));
    const total = (name: string, labels = {}) =>
      all.reduce((sum, m) => sum + sampleValue(m, name, labels), 0);
    const fate = (f: string) => total('onpush_fates_total', { fate: f });
    const received = total('onpush_events_received_total');
    expect(fate('ignored') + fate('no-match') + fate('dead') + fate('dispatched')).toBe(received);
    expect(fate('restarted') + fate('unchanged') + fate('gone')).toBe(fate('dispatched'));
  });

  it('carries the trace id of a Pub/Sub message into the logs, with no exporter set', () => {
    const record = logs
      .filter((l) => l.startsWith('[parser]'))
      .map((l) => JSON.parse(l.slice(l.indexOf('{'))) as Record<string, unknown>)
      .find((r) => r['msg'] === 'dead-lettered');
    expect(record?.['trace_id']).toBe(TRACE_ID);
  });

  it('`onpush status` shows health, lag, DLQ depth, index size and the last minute’s fates', async () => {
    const env: NodeJS.ProcessEnv = { ...process.env, NATS_URL: sandbox().need('nats').url };
    for (const s of SERVICES)
      env[`ONPUSH_${s.toUpperCase().replaceAll('-', '_')}_URL`] = `http://127.0.0.1:${ports[s]}`;
    const json = JSON.parse(await onpush(['status', '--json'], env)) as {
      services: { service: string; ready: boolean; state: string }[];
      consumers: { consumer: string; pending: number; ackPending: number }[];
      dlq: { depth: number };
      index: { workloads: number; images: number };
      fates: { windowSeconds: number; counts: Record<string, number> };
    };
    expect(json.services.map((s) => [s.service, s.ready, s.state])).toEqual(
      SERVICES.map((s) => [s, true, 'running']),
    );
    for (const stage of ['parser', 'resolver', 'restarter', 'dlq-manager'])
      expect(json.consumers).toContainEqual(
        expect.objectContaining({ consumer: stage, pending: 0, ackPending: 0 }),
      );
    expect(json.dlq.depth).toBe(1);
    expect(json.index).toEqual({ workloads: 2, images: 2 });
    expect(json.fates).toEqual({
      windowSeconds: 60,
      counts: {
        ignored: 1,
        'no-match': 1,
        dispatched: 1,
        restarted: 1,
        unchanged: 0,
        gone: 0,
        dead: 1,
        'would-restart': 0,
        refused: 0,
        halted: 0,
        rejected: 0,
        expired: 0,
        'rollout-completed': 0,
        'rollout-failed': 0,
        'rolled-back': 0,
      },
    });
    const table = await onpush(['status'], env);
    expect(table).toMatch(/^restarter\s+yes\s+running/m);
    expect(table).toMatch(/^DLQ\s+1 dead letters/m);
    expect(table).toMatch(
      /^FATES \(last 60s\)\s+ignored 1, no-match 1, dispatched 1, restarted 1/m,
    );
  });

  function onpush(args: string[], env: NodeJS.ProcessEnv): Promise<string> {
    return new Promise((resolve, reject) => {
      execFile(
        process.execPath,
        [cliMain, ...args],
        { env, timeout: 20_000 },
        (error, stdout, stderr) => {
          if (error)
            reject(new Error(`onpush ${args.join(' ')}: ${stderr || error.message}\n${stdout}`));
          else resolve(stdout);
        },
      );
    });
  }
});
