import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SERVICES, type ServiceName } from '@onpush/cli';
import { STREAMS } from '@onpush/contracts';
import { kubeClients, loadKubeConfig } from '@onpush/kube';
import { connectNats, jetstreamManager, type NatsConnection } from '@onpush/nats';
import { NatsServer } from '@onpush/sandbox';
import { parsePrometheusText, sampleValue } from '@onpush/telemetry';
import { eventually, useSandbox } from '@onpush/testing';
import { REPO } from './cluster-fixtures.js';
import { OtlpReceiver } from './otlp-receiver.js';
import { PUSH_PATH, pushEnv, pushHeaders } from '../support/pubsub-push.js';
import { startPipeline } from './pipeline.js';

const ROUNDS = Number(process.env['ONPUSH_OVERHEAD_ROUNDS'] ?? 10);
const EVENTS = Number(process.env['ONPUSH_OVERHEAD_EVENTS'] ?? 200);
const CONCURRENCY = 16;
/** OTEL_BSP_SCHEDULE_DELAY of the traced lane (the SDK's default is 5 s). */
const BATCH_DELAY_MS = 500;
/** The target: tracing costs less than 10% of the pipeline's throughput. */
const MAX_COST = 0.1;

const round2 = (n: number): number => Math.round(n * 100) / 100;
const round3 = (n: number): number => Math.round(n * 1000) / 1000;

const median = (values: readonly number[]): number => {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
};

function envelope(id: string): string {
  const body = { action: 'INSERT', tag: `${REPO}/nobody:1.0` };
  const data = Buffer.from(JSON.stringify(body)).toString('base64');
  const message = { data, messageId: id, publishTime: new Date().toISOString() };
  return JSON.stringify({ message, subscription: 'projects/p/subscriptions/onpush-push' });
}

interface Lane {
  name: 'off' | 'on';
  nc: NatsConnection;
  ports: Record<ServiceName, number>;
  stop: () => Promise<unknown>;
}

interface Burst {
  /** Events per second, first push request to last outcome stored. */
  rate: number;
  /** CPU milliseconds the five services spent per event (user + system). */
  cpuMsPerEvent: number;
  byService: Record<ServiceName, number>;
}

// Two identical pipelines, each on its own nats-server, one exporting spans by OTLP (the SDK's
// default http/protobuf, 100% sampled, to a sink that discards them) and one not. They take
// the same bursts of events at the same time, so whatever else the machine does affects both.
// The events are pushes nobody runs (ingest → parser → resolver: three JetStream hops and an
// outcome each), the path where tracing is the largest share of the work.
describe('tracing overhead: throughput with the exporter on and off, in one run', () => {
  const sandbox = useSandbox(['nats', 'pubsub', 'kube'], 'overhead');
  let sink: OtlpReceiver;
  let second: NatsServer;
  const lanes: Lane[] = [];

  beforeAll(async () => {
    sink = await OtlpReceiver.start({ discard: true });
    const kube = kubeClients(loadKubeConfig(sandbox().need('kube').kubeconfigPath));
    await kube.core.createNamespace({ body: { metadata: { name: 'onpush' } } });
    second = await NatsServer.create({
      dir: join(sandbox().dir, 'nats-traced'),
      credentialsDir: sandbox().need('nats').credentialsDir,
    });
    for (const [name, url] of [
      ['off', sandbox().need('nats').url],
      ['on', second.url],
    ] as const) {
      const env = {
        NATS_URL: url,
        ...(name === 'on'
          ? {
              OTEL_EXPORTER_OTLP_ENDPOINT: sink.url,
              OTEL_BSP_SCHEDULE_DELAY: String(BATCH_DELAY_MS),
            }
          : {}),
      };
      const pipeline = await startPipeline(sandbox(), {
        ...Object.fromEntries(SERVICES.map((s) => [s, env])),
        ingest: { ...env, ...pushEnv() },
      });
      const nc = await connectNats({ url, name: `onpush-overhead-${name}` });
      lanes.push({ name, nc, ports: pipeline.ports, stop: () => pipeline.supervisor.stop() });
    }
  }, 240_000);

  afterAll(async () => {
    for (const lane of lanes) {
      await lane.nc.close();
      await lane.stop();
    }
    await second?.stop();
    await sink?.close();
  });

  const outcomesStored = async (nc: NatsConnection): Promise<number> =>
    (await (await jetstreamManager(nc)).streams.info(STREAMS.outcomes)).state.messages;

  /** CPU seconds each service has used so far. */
  const cpuSeconds = async (lane: Lane): Promise<Record<ServiceName, number>> => {
    const cpu = {} as Record<ServiceName, number>;
    for (const s of SERVICES) {
      const text = await (await fetch(`http://127.0.0.1:${lane.ports[s]}/metrics`)).text();
      cpu[s] = sampleValue(parsePrometheusText(text), 'process_cpu_seconds_total');
    }
    return cpu;
  };

  async function push(port: number, ids: string[]): Promise<void> {
    const queue = [...ids];
    const worker = async (): Promise<void> => {
      for (let id = queue.shift(); id !== undefined; id = queue.shift()) {
        const res = await fetch(`http://127.0.0.1:${port}${PUSH_PATH}`, {
          method: 'POST',
          headers: pushHeaders(),
          body: envelope(id),
        });
        if (res.status !== 204) throw new Error(`push ${id}: ${res.status}`);
      }
    };
    await Promise.all(Array.from({ length: CONCURRENCY }, worker));
  }

  async function burst(lane: Lane, label: string, count: number): Promise<Burst> {
    const target = (await outcomesStored(lane.nc)) + count;
    const cpuBefore = await cpuSeconds(lane);
    const started = performance.now();
    await push(
      lane.ports.ingest,
      Array.from({ length: count }, (_, i) => `${label}-${i}`),
    );
    await eventually(
      `${label}: ${count} outcomes`,
      async () => (await outcomesStored(lane.nc)) >= target,
      {
        timeoutMs: 120_000,
        intervalMs: 10,
      },
    );
    const seconds = (performance.now() - started) / 1000;
    // Let the traced lane export what it batched, so the export's CPU counts in this burst.
    await new Promise((resolve) => setTimeout(resolve, 2 * BATCH_DELAY_MS));
    const cpuAfter = await cpuSeconds(lane);
    const byService = {} as Record<ServiceName, number>;
    for (const s of SERVICES) byService[s] = ((cpuAfter[s] - cpuBefore[s]) * 1000) / count;
    const cpuMsPerEvent = Object.values(byService).reduce((a, b) => a + b, 0);
    return { rate: count / seconds, cpuMsPerEvent, byService };
  }

  it(`costs less than ${MAX_COST * 100}% of the throughput`, { timeout: 900_000 }, async () => {
    await Promise.all(lanes.map((lane) => burst(lane, `warm-${lane.name}`, 100)));
    const results: Record<Lane['name'], Burst[]> = { off: [], on: [] };
    for (let round = 0; round < ROUNDS; round += 1) {
      const bursts = await Promise.all(
        lanes.map((lane) => burst(lane, `r${round}-${lane.name}`, EVENTS)),
      );
      lanes.forEach((lane, i) => results[lane.name].push(bursts[i]!));
    }
    // Each round's pair ran at the same time, on the same machine: their ratio cancels the
    // machine's drifting load (other work on it), which is far larger than the effect.
    const ratios = (pick: (b: Burst) => number) =>
      results.on.map((on, i) => pick(on) / pick(results.off[i]!));
    const throughputRatio = median(ratios((b) => b.rate));
    const cpuRatio = median(ratios((b) => b.cpuMsPerEvent));
    const perService = (s: ServiceName) =>
      (['off', 'on'] as const).map((n) => round2(median(results[n].map((b) => b.byService[s]))));
    const report = {
      events: EVENTS,
      rounds: ROUNDS,
      ratesOff: results.off.map((b) => Math.round(b.rate)),
      ratesOn: results.on.map((b) => Math.round(b.rate)),
      throughputRatio: round3(throughputRatio),
      throughputCost: round3(1 - throughputRatio),
      cpuMsPerEventOff: round2(median(results.off.map((b) => b.cpuMsPerEvent))),
      cpuMsPerEventOn: round2(median(results.on.map((b) => b.cpuMsPerEvent))),
      cpuCost: round3(cpuRatio - 1),
      cpuMsPerEventByService: Object.fromEntries(SERVICES.map((s) => [s, perService(s)])),
      exportRequests: sink.requests,
      exportBytes: sink.bytes,
    };
    mkdirSync('.vitest-reports', { recursive: true });
    writeFileSync('.vitest-reports/tracing-overhead.json', `${JSON.stringify(report, null, 2)}\n`);
    console.info(`tracing overhead: ${JSON.stringify(report)}`);
    expect(sink.requests).toBeGreaterThan(0);
    expect(report.throughputCost).toBeLessThan(MAX_COST);
  });
});
