import { PubSub } from '@google-cloud/pubsub';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SERVICES } from '@onpush/cli';
import { kubeClients, loadKubeConfig } from '@onpush/kube';
import { eventually, useSandbox } from '@onpush/testing';
import { deployment } from '../support/kube.js';
import { REPO, digest } from './cluster-fixtures.js';
import { Jaeger, type JaegerSpan, type JaegerTrace } from './jaeger.js';
import { outcomesOf, startPipeline } from './pipeline.js';

const tag = (span: JaegerSpan, key: string): unknown => span.tags.find((t) => t.key === key)?.value;

/** The span named `name`, with its service; throws naming what the trace holds otherwise. */
function spanOf(trace: JaegerTrace, name: string): JaegerSpan & { service: string } {
  const found = trace.spans.filter((s) => s.operationName === name);
  if (found.length !== 1) {
    const names = trace.spans.map((s) => s.operationName).join(', ');
    throw new Error(`${found.length} spans named ${name} in ${names}`);
  }
  const span = found[0]!;
  return { ...span, service: trace.processes[span.processID]?.serviceName ?? '?' };
}

const parentOf = (span: JaegerSpan): string | undefined =>
  span.references.find((r) => r.refType === 'CHILD_OF')?.spanID;

// Given the five services exporting OTLP with the SDK's default protocol (http/protobuf) to a
// real Jaeger v2 built from its Go module, when a push restarts shop/web, then Jaeger's query
// API finds the push's trace by its Pub/Sub message id and shows every hop in it.
describe('tracing: one push, found in Jaeger', () => {
  const sandbox = useSandbox(['nats', 'pubsub', 'kube'], 'jaeger');
  let jaeger: Jaeger;
  let pubsub: PubSub;
  let stop: (() => Promise<unknown>) | undefined;

  // The first run builds Jaeger from source (scripts/build-jaeger.sh): minutes, once.
  beforeAll(async () => {
    jaeger = await Jaeger.start(sandbox().dir);
    const kube = kubeClients(loadKubeConfig(sandbox().need('kube').kubeconfigPath));
    for (const ns of ['onpush', 'shop'])
      await kube.core.createNamespace({ body: { metadata: { name: ns } } });
    await kube.apps.createNamespacedDeployment({
      namespace: 'shop',
      body: deployment('web', `${REPO}/app:1.1`),
    });
    const env = { OTEL_EXPORTER_OTLP_ENDPOINT: jaeger.otlpUrl, OTEL_BSP_SCHEDULE_DELAY: '100' };
    const pipeline = await startPipeline(
      sandbox(),
      Object.fromEntries(SERVICES.map((s) => [s, env])),
    );
    stop = () => pipeline.supervisor.stop();
    pubsub = new PubSub({
      projectId: sandbox().pubsubProject,
      apiEndpoint: sandbox().need('pubsub').host,
      emulatorMode: true,
    });
  }, 1_800_000);

  afterAll(async () => {
    await pubsub?.close();
    await stop?.();
    await jaeger?.stop();
  });

  it('finds the trace through the query API, from the push to the PATCH', async () => {
    const body = { action: 'INSERT', digest: `${REPO}/app@${digest(7)}`, tag: `${REPO}/app:1.1` };
    const messageId = await pubsub
      .topic('gcr')
      .publishMessage({ data: Buffer.from(JSON.stringify(body)) });
    await eventually('restarted', async () =>
      (await outcomesOf(sandbox().need('nats').url, `gar:${messageId}`)).some(
        (o) => o.fate === 'restarted',
      ),
    );

    const traceId = await eventually('the trace, found by its Pub/Sub message id', async () => {
      const ids = await jaeger.find('onpush-ingest', { 'messaging.message.id': messageId });
      return ids.length === 1 ? ids[0] : undefined;
    });
    const trace = await eventually(
      'every hop in Jaeger',
      async () => {
        const t = await jaeger.trace(traceId);
        const names = new Set(t?.spans.map((s) => s.operationName));
        return names.has('publish onpush.outcome.restarted') ? t : undefined;
      },
      { timeoutMs: 30_000 },
    );

    expect((await jaeger.services()).sort()).toEqual(
      expect.arrayContaining([
        'onpush-ingest',
        'onpush-parser',
        'onpush-resolver',
        'onpush-restarter',
      ]),
    );
    const chain = [
      'push gar',
      'process onpush-gcr',
      'publish onpush.raw.gar',
      'process onpush.raw.gar',
      'publish onpush.pushed',
      'process onpush.pushed',
      'publish onpush.restart.shop',
      'process onpush.restart.shop',
      'publish onpush.outcome.restarted',
    ].map((name) => spanOf(trace, name));
    expect(chain.map((s) => s.service)).toEqual([
      'onpush-ingest',
      'onpush-ingest',
      'onpush-ingest',
      'onpush-parser',
      'onpush-parser',
      'onpush-resolver',
      'onpush-resolver',
      'onpush-restarter',
      'onpush-restarter',
    ]);
    expect(parentOf(chain[0]!)).toBeUndefined();
    for (let i = 1; i < chain.length; i += 1)
      expect(parentOf(chain[i]!)).toBe(chain[i - 1]!.spanID);
    const restart = chain[7]!;
    expect(tag(restart, 'k8s.namespace.name')).toBe('shop');
    expect(tag(restart, 'k8s.deployment.name')).toBe('web');
    expect(tag(restart, 'container.image.name')).toBe(`${REPO}/app`);
    expect(tag(restart, 'http.response.status_code')).toBe(200);
    expect(tag(restart, 'messaging.consumer.group.name')).toBe('restarter');
  });
});
