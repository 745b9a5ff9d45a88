import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parseDeadLetter, parseImagePushed, parseOutcome, payloadBytes } from '@onpush/contracts';
import { createLogger, createMetrics } from '@onpush/telemetry';
import type { Incoming } from '@onpush/service';
import { createHandler } from './handler.js';
import { createParserMetrics } from './metrics.js';

const fixture = (name: string): string =>
  readFileSync(new URL(`../../../test/fixtures/registry-events/${name}`, import.meta.url), 'utf8');

const raw = (body: string, extra: Record<string, string> = {}): Incoming => ({
  subject: 'onpush.raw.gar',
  data: new TextEncoder().encode(body),
  headers: {
    'Nats-Msg-Id': 'gar:123',
    'Onpush-Event-Id': 'gar:123',
    'Onpush-Received-At': '2026-11-26T10:00:01.000Z',
    'Onpush-Transport-publish-time': '2026-11-26T10:00:00.500Z',
    ...extra,
  },
  seq: 1,
  deliveryCount: 1,
});

const handle = createHandler({ now: () => new Date('2026-11-26T10:00:02Z') });
const D = `sha256:${'ab'.repeat(32)}`;

describe('parser: Artifact Registry notifications', () => {
  it('turns an INSERT with tag and digest into one ImagePushed keyed by the Pub/Sub message id', async () => {
    const [out, ...rest] = await handle(
      raw(
        JSON.stringify({
          action: 'INSERT',
          digest: `us-docker.pkg.dev/p/r/app@${D}`,
          tag: 'us-docker.pkg.dev/p/r/app:1.1',
        }),
      ),
    );
    expect(rest).toEqual([]);
    expect(out?.subject).toBe('onpush.pushed');
    expect(out?.msgId).toBe('gar:123');
    expect(parseImagePushed(out?.data)).toEqual({
      v: 1,
      id: 'gar:123',
      source: 'gar',
      image: 'us-docker.pkg.dev/p/r/app',
      registry: 'us-docker.pkg.dev',
      repository: 'p/r/app',
      tag: '1.1',
      digest: D,
      pushedAt: '2026-11-26T10:00:00.500Z',
      receivedAt: '2026-11-26T10:00:01.000Z',
    });
  });

  it('keeps the tag of the documented example and drops its truncated digest', async () => {
    const [out] = await handle(raw(fixture('gar-insert-tag.json')));
    const pushed = parseImagePushed(out?.data);
    expect(pushed.image).toBe('us-west1-docker.pkg.dev/my-project/my-repo/hello-world');
    expect(pushed.tag).toBe('1.1');
    expect(pushed.digest).toBeUndefined();
  });

  it('accepts a push by digest only (a per-platform manifest)', async () => {
    const [out] = await handle(
      raw(JSON.stringify({ action: 'INSERT', digest: `us-docker.pkg.dev/p/r/app@${D}` })),
    );
    const pushed = parseImagePushed(out?.data);
    expect(pushed.tag).toBeUndefined();
    expect(pushed.digest).toBe(D);
  });

  it('ends a DELETE as the fate ignored', async () => {
    const [out] = await handle(raw(fixture('gar-delete.json')));
    expect(out?.subject).toBe('onpush.outcome.ignored');
    expect(parseOutcome(out?.data)).toMatchObject({
      eventId: 'gar:123',
      fate: 'ignored',
      reason: 'delete',
      stage: 'parser',
    });
  });

  it.each([
    ['not json', 'invalid_json'],
    ['[1,2]', 'missing_field'],
    ['{"tag":"x"}', 'missing_field'],
    ['{"action":"INSERT"}', 'missing_field'],
    ['{"action":"INSERT","tag":"https://evil.example/app:1"}', 'invalid_reference'],
    ['{"action":"INSERT","tag":"us-docker.pkg.dev/p//app:1"}', 'invalid_reference'],
  ])('rejects %s as a permanent %s failure', async (body, type) => {
    await expect(handle(raw(body))).rejects.toMatchObject({ type, retryable: false });
  });

  it('rejects a subject with no known format', async () => {
    await expect(handle({ ...raw('{}'), subject: 'onpush.raw.nope' })).rejects.toMatchObject({
      type: 'unknown_source',
    });
  });
});

describe('parser: every source', () => {
  const D2 = `sha256:${'cd'.repeat(32)}`;
  const batch = (...events: unknown[]) => JSON.stringify({ events });
  const push = (id: string, repository: string, extra: Record<string, unknown> = {}) => ({
    id,
    action: 'push',
    target: {
      mediaType: 'application/vnd.oci.image.manifest.v1+json',
      repository,
      tag: 'v1',
      ...extra,
    },
    request: { host: 'reg.example.com' },
  });
  const distribution = (body: string, headers: Record<string, string> = {}): Incoming => ({
    ...raw(body, {
      'Nats-Msg-Id': 'distribution:r1',
      'Onpush-Event-Id': 'distribution:r1',
      ...headers,
    }),
    subject: 'onpush.raw.distribution',
    seq: 42,
  });

  it('rejects a subject that names an object property rather than a source', async () => {
    await expect(handle({ ...raw('{}'), subject: 'onpush.raw.constructor' })).rejects.toMatchObject(
      {
        type: 'unknown_source',
      },
    );
  });

  it('gives each push of a batch its own id, Nats-Msg-Id and the delivery trace context', async () => {
    const traceparent = '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01';
    const out = await handle(distribution(batch(push('a', 'x'), push('b', 'y')), { traceparent }));
    expect(
      out.map((o) => [o.msgId, o.headers?.['Onpush-Event-Id'], o.headers?.['traceparent']]),
    ).toEqual([
      ['distribution:r1#a', 'distribution:r1#a', traceparent],
      ['distribution:r1#b', 'distribution:r1#b', traceparent],
    ]);
  });

  it('dead-letters a partly malformed batch once, with the original bytes, and counts it', async () => {
    const metrics = createParserMetrics(createMetrics('parser').registry);
    const lines: string[] = [];
    const log = createLogger({}, { write: (line) => lines.push(line) });
    const counting = createHandler({ log, metrics });
    const body = batch(push('ok', 'x', { digest: 'sha256:6ec128e26cd5' }), push('bad', 'a//b'));
    const out = await counting(distribution(body));
    expect(out.map((o) => [o.subject, o.msgId])).toEqual([
      ['onpush.pushed', 'distribution:r1#ok'],
      ['onpush.dead.parser', 'dead:parser:ONPUSH:42'],
      ['onpush.outcome.dead', 'dead:parser:ONPUSH:42:outcome'],
    ]);
    const letter = parseDeadLetter(out[1]?.data);
    expect(new TextDecoder().decode(payloadBytes(letter))).toBe(body);
    expect(letter).toMatchObject({ reason: 'invalid_reference', attempts: 1 });
    expect(parseOutcome(out[2]?.data)).toMatchObject({
      eventId: 'distribution:r1',
      fate: 'dead',
      stage: 'parser',
    });
    const text = await metrics.results.get();
    expect(text.values.map((v) => [v.labels['result'], v.value])).toEqual([
      ['pushed', 1],
      ['rejected', 1],
    ]);
    expect((await metrics.droppedDigests.get()).values[0]?.value).toBe(1);
    expect(lines.some((line) => line.includes('malformed batch entries'))).toBe(true);
  });

  it('leaves out a push time that is not an ISO 8601 time with a zone', async () => {
    const [out] = await handle(
      raw(JSON.stringify({ action: 'INSERT', digest: `us-docker.pkg.dev/p/r/app@${D2}` }), {
        'Onpush-Transport-publish-time': '+275760-09-13T00:00:00.000Z',
      }),
    );
    expect(parseImagePushed(out?.data).pushedAt).toBeUndefined();
  });
});
