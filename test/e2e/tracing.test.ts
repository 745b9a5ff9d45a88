import type { PubSub, Topic } from '@google-cloud/pubsub';
import { RbacAuthorizationV1Api } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SERVICES } from '@onpush/cli';
import { kubeClients, loadKubeConfig } from '@onpush/kube';
import { eventually, useSandbox } from '@onpush/testing';
import { deployment, grantRestarter, restarterIdentity } from '../support/kube.js';
import { REPO, digest } from './cluster-fixtures.js';
import { KIND, OtlpReceiver, STATUS, one, type ReceivedSpan } from './otlp-receiver.js';
import { childOf, expectHop } from './trace-assertions.js';
import { startPipeline, writeTokenKubeconfig, gcrTopic } from './pipeline.js';

/** An Artifact Registry notification: `name:tag` pushed with digest number `n`. */
const insert = (name: string, tag: string, n: number): Buffer =>
  Buffer.from(
    JSON.stringify({
      action: 'INSERT',
      digest: `${REPO}/${name}@${digest(n)}`,
      tag: `${REPO}/${name}:${tag}`,
    }),
  );

// Given Deployments shop/web (…/app:1.1, the restarter may patch it) and locked/api
// (…/locked:2.0, it may not), the five services as processes exporting OTLP/HTTP JSON to a
// receiver, against real NATS, the Pub/Sub emulator and a kube-apiserver.
describe('tracing: one trace per push, across every service', () => {
  const sandbox = useSandbox(['nats', 'pubsub', 'kube'], 'tracing');
  let receiver: OtlpReceiver;
  let topic: Topic;
  let pubsub: PubSub;
  let rbac: RbacAuthorizationV1Api;
  let stop: (() => Promise<unknown>) | undefined;
  let logs: string[] = [];
  let dlqUrl = '';
  let dlqAuth: Record<string, string> = {};

  beforeAll(async () => {
    receiver = await OtlpReceiver.start();
    const config = loadKubeConfig(sandbox().need('kube').kubeconfigPath);
    const kube = kubeClients(config);
    rbac = config.makeApiClient(RbacAuthorizationV1Api);
    for (const ns of ['onpush', 'shop', 'locked'])
      await kube.core.createNamespace({ body: { metadata: { name: ns } } });
    await kube.apps.createNamespacedDeployment({
      namespace: 'shop',
      body: deployment('web', `${REPO}/app:1.1`),
    });
    await kube.apps.createNamespacedDeployment({
      namespace: 'locked',
      body: deployment('api', `${REPO}/locked:2.0`),
    });
    const token = await restarterIdentity(kube, rbac, ['shop']);
    const kubeconfig = writeTokenKubeconfig(sandbox(), 'restarter', token);
    const env = Object.fromEntries(SERVICES.map((s) => [s, receiver.env()]));
    env.restarter = { ...env.restarter, KUBECONFIG: kubeconfig };
    const pipeline = await startPipeline(sandbox(), env);
    logs = pipeline.logs;
    dlqUrl = `http://127.0.0.1:${pipeline.ports['dlq-manager']}`;
    dlqAuth = { authorization: `Bearer ${pipeline.adminToken}` };
    stop = () => pipeline.supervisor.stop();
    ({ pubsub, topic } = gcrTopic(sandbox()));
  });

  afterAll(async () => {
    await pubsub?.close();
    await stop?.();
    await receiver?.close();
  });

  /** The spans of the trace holding `name` once `ready` says it is complete. */
  async function traceOf(
    what: string,
    find: (span: ReceivedSpan) => boolean,
    ready: (trace: ReceivedSpan[]) => boolean,
  ): Promise<ReceivedSpan[]> {
    return eventually(
      what,
      () => {
        const anchor = receiver.spans.find(find);
        const trace = anchor ? receiver.trace(anchor.traceId) : [];
        return anchor && ready(trace) ? trace : undefined;
      },
      { timeoutMs: 30_000 },
    ).catch((error: unknown) => {
      const seen = receiver.spans.map((s) => `${s.service}: ${s.name}`).join('\n');
      throw new Error(`${String(error)}\nspans:\n${seen}\n${logs.slice(-30).join('\n')}`);
    });
  }

  it('starts the trace at the push and follows it, hop by hop, to the PATCH', async () => {
    const messageId = await topic.publishMessage({ data: insert('app', '1.1', 1) });
    const eventId = `gar:${messageId}`;
    const has = (name: string) => (trace: ReceivedSpan[]) => trace.some((s) => s.name === name);
    const spans = await traceOf(
      'the trace of the push, down to the restart outcome',
      (s) => s.name === 'push gar' && s.attributes['messaging.message.id'] === messageId,
      (t) => has('publish onpush.outcome.restarted')(t) && has('process onpush.restart.shop')(t),
    );

    // One trace: every span about this event is in it.
    const aboutEvent = receiver.spans.filter((s) => s.attributes['onpush.event.id'] === eventId);
    expect(new Set(aboutEvent.map((s) => s.traceId))).toEqual(new Set([spans[0]?.traceId]));
    expect(new Set(spans.map((s) => s.service))).toEqual(
      new Set(['onpush-ingest', 'onpush-parser', 'onpush-resolver', 'onpush-restarter']),
    );

    const push = one(spans, { name: 'push gar' });
    expect(push).toMatchObject({ service: 'onpush-ingest', kind: KIND.producer });
    expect(push.parentSpanId).toBeUndefined();
    const publishedAt = Date.parse(String(push.attributes['onpush.registry.published_at']));
    expect(push.startMs).toBe(publishedAt);
    expect(push.attributes).toMatchObject({
      'messaging.system': 'gcp_pubsub',
      'onpush.source': 'gar',
    });

    const received = childOf(spans, push, { name: 'process onpush-gcr' });
    expect(received).toMatchObject({ service: 'onpush-ingest', kind: KIND.consumer });
    expect(received.attributes).toMatchObject({
      'messaging.system': 'gcp_pubsub',
      'messaging.message.id': messageId,
      'onpush.transport.via': 'pull',
    });
    const raw = childOf(spans, received, { name: 'publish onpush.raw.gar' });
    const parse = childOf(spans, raw, { name: 'process onpush.raw.gar', service: 'onpush-parser' });
    expectHop(raw, parse, 'parser');
    const pushed = childOf(spans, parse, { name: 'publish onpush.pushed' });
    const resolve = childOf(spans, pushed, { name: 'process onpush.pushed' });
    expectHop(pushed, resolve, 'resolver');
    expect(resolve.attributes['onpush.resolver.matched_workloads']).toBe(1);
    childOf(spans, resolve, { name: 'publish onpush.outcome.dispatched' });
    const request = childOf(spans, resolve, { name: 'publish onpush.restart.shop' });
    const restart = childOf(spans, request, { name: 'process onpush.restart.shop' });
    expectHop(request, restart, 'restarter');
    expect(restart).toMatchObject({ service: 'onpush-restarter', status: { code: STATUS.unset } });
    expect(restart.attributes).toMatchObject({
      'k8s.namespace.name': 'shop',
      'k8s.deployment.name': 'web',
      'onpush.workload.kind': 'Deployment',
      'container.image.name': `${REPO}/app`,
      'container.image.tags': ['1.1'],
      'http.response.status_code': 200,
      'onpush.fate': 'restarted',
      'onpush.message.result': 'acked',
      'onpush.event.id': eventId,
    });
    const outcome = childOf(spans, restart, { name: 'publish onpush.outcome.restarted' });
    expect(outcome.service).toBe('onpush-restarter');
  });

  it('continues the trace context a Pub/Sub message carries', async () => {
    const traceId = '4bf92f3577b34da6a3ce929d0e0e4736';
    const parentId = '00f067aa0ba902b7';
    const messageId = await topic.publishMessage({
      data: insert('nobody', '1.0', 2),
      attributes: { googclient_traceparent: `00-${traceId}-${parentId}-01` },
    });
    const spans = await traceOf(
      'the continued trace',
      (s) => s.traceId === traceId,
      (t) => t.some((s) => s.name === 'publish onpush.outcome.no-match'),
    );
    const received = one(spans, { name: 'process onpush-gcr' });
    expect(received.parentSpanId).toBe(parentId);
    expect(received.attributes['messaging.message.id']).toBe(messageId);
    expect(spans.filter((s) => s.name === 'push gar')).toEqual([]);
    const resolve = one(spans, { name: 'process onpush.pushed' });
    expect(resolve.attributes['onpush.resolver.matched_workloads']).toBe(0);
  });

  it('keeps a dead letter in the trace, and links a replay to it', async () => {
    const messageId = await topic.publishMessage({ data: insert('locked', '2.0', 3) });
    const eventId = `gar:${messageId}`;
    const original = await traceOf(
      'the trace ending in the DLQ',
      (s) => s.name === 'push gar' && s.attributes['messaging.message.id'] === messageId,
      (t) => t.some((s) => s.name === 'process onpush.dead.restarter'),
    );
    const traceId = original[0]?.traceId ?? '';

    // The refused restart: an error, its type, and the dead letter published from it.
    const restart = one(original, { name: 'process onpush.restart.locked' });
    expect(restart.status.code).toBe(STATUS.error);
    expect(restart.attributes).toMatchObject({
      'error.type': 'http_403',
      'onpush.message.result': 'dead',
      'k8s.namespace.name': 'locked',
      'k8s.deployment.name': 'api',
    });
    const dead = childOf(original, restart, { name: 'publish onpush.dead.restarter' });
    childOf(original, restart, { name: 'publish onpush.outcome.dead' });
    const kept = childOf(original, dead, { name: 'process onpush.dead.restarter' });
    expect(kept.service).toBe('onpush-dlq-manager');
    expect(kept.attributes).toMatchObject({
      'messaging.consumer.group.name': 'dlq-manager',
      'messaging.nats.stream.name': 'ONPUSH_DLQ',
      'onpush.dlq.stage': 'restarter',
      'onpush.dlq.reason': 'http_403',
      'onpush.event.id': eventId,
    });

    // Logs of both services carry the trace.
    const line = (service: string, msg: string) =>
      logs
        .filter((l) => l.startsWith(`[${service}]`))
        .map((l) => JSON.parse(l.slice(l.indexOf('{'))) as Record<string, unknown>)
        .find((r) => r['msg'] === msg && r['trace_id'] === traceId);
    expect(line('restarter', 'dead-lettered')?.['span_id']).toBe(restart.spanId);
    expect(line('dlq-manager', 'dead letter')?.['span_id']).toBe(kept.spanId);

    // Once the permission is granted, the replay is a new trace linked to the original.
    await grantRestarter(rbac, 'locked');
    const listed = (await (
      await fetch(`${dlqUrl}/dlq?stage=restarter`, { headers: dlqAuth })
    ).json()) as { entries: { id: number }[] };
    const id = listed.entries[0]?.id;
    const answer = await fetch(`${dlqUrl}/dlq/${id}/replay`, { method: 'POST', headers: dlqAuth });
    expect(answer.status).toBe(200);
    const replayed = await traceOf(
      'the replay trace',
      (s) => s.name === 'replay onpush.restart.locked',
      (t) => t.some((s) => s.name === 'publish onpush.outcome.restarted'),
    );
    const replay = one(replayed, { name: 'replay onpush.restart.locked' });
    const request = one(original, { name: 'publish onpush.restart.locked' });
    expect(replay).toMatchObject({ service: 'onpush-dlq-manager', kind: KIND.producer });
    expect(replay.parentSpanId).toBeUndefined();
    expect(replay.traceId).not.toBe(traceId);
    expect(replay.links).toEqual([{ traceId, spanId: request.spanId }]);
    expect(replay.attributes).toMatchObject({
      'onpush.dlq.entry_id': id,
      'onpush.event.id': eventId,
    });
    const again = childOf(replayed, replay, { name: 'process onpush.restart.locked' });
    expect(again.attributes).toMatchObject({
      'onpush.fate': 'restarted',
      'http.response.status_code': 200,
      'messaging.nats.message.delivery_count': 1,
    });
    expect(original.filter((s) => s.name === 'process onpush.restart.locked')).toHaveLength(1);
    expect(receiver.rejected).toEqual([]);
  });
});
