import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parseImagePushed, parseOutcome } from '@onpush/contracts';
import type { Incoming } from '@onpush/service';
import { createHandler } from './handler.js';

const fixture = (name: string): string =>
  readFileSync(
    new URL(`../../../test/fixtures/registry-events/${name}`, import.meta.url),
    'utf8',
  );

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

const handle = createHandler(undefined, () => new Date('2026-11-26T10:00:02Z'));
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
