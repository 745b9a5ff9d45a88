import { JetStreamApiError, type JetStreamClient, type PubAck } from '@nats-io/jetstream';
import type { MsgHdrs } from '@nats-io/nats-core';
import { describe, expect, it } from 'vitest';
import { HEADERS } from '@onpush/contracts';
import { dedupId, keyOfDedupId, publisher } from './publish.js';

describe('de-duplication ids', () => {
  it('scope a key by its subject, so one key on two kinds of message is two messages', () => {
    expect(dedupId('onpush.raw.gar', 'gar:1')).toBe('onpush.raw.gar|gar:1');
    expect(dedupId('onpush.pushed', 'gar:1')).not.toBe(dedupId('onpush.raw.gar', 'gar:1'));
  });

  it('give every outcome subject one scope: a second fate under one key is a duplicate', () => {
    expect(dedupId('onpush.outcome.restarted', 'e:Deployment/a/b:outcome')).toBe(
      dedupId('onpush.outcome.unchanged', 'e:Deployment/a/b:outcome'),
    );
  });

  it('read the key back from a stored id, in the outcome scope or the older subject scope', () => {
    const key = 'gar:1:resolver';
    expect(keyOfDedupId('onpush.outcome.ignored', dedupId('onpush.outcome.ignored', key))).toBe(
      key,
    );
    expect(keyOfDedupId('onpush.outcome.ignored', `onpush.outcome.ignored|${key}`)).toBe(key);
    expect(keyOfDedupId('onpush.raw.gar', 'onpush.raw.gar|gar:1')).toBe('gar:1');
    expect(keyOfDedupId('onpush.raw.gar', 'plain')).toBe('plain');
  });

  it("put a fleet cluster's name first, so the hub keeps two clusters' outcomes of one push", () => {
    const key = 'gar:1:resolver';
    const a = dedupId('onpush.outcome.dispatched', key, 'prod-a');
    expect(a).toBe(`prod-a@onpush.outcome|${key}`);
    expect(a).not.toBe(dedupId('onpush.outcome.dispatched', key, 'prod-b'));
    expect(keyOfDedupId('onpush.outcome.dispatched', a)).toBe(key);
    // An '@' in the key itself (an image reference) is not a cluster.
    const ref = 'r/app@sha256:1';
    expect(keyOfDedupId('onpush.pushed', dedupId('onpush.pushed', ref))).toBe(ref);
  });
});

describe('publisher', () => {
  const inProcess = () =>
    new JetStreamApiError({
      code: 409,
      err_code: 10158,
      description: 'duplicate message id is in process',
    });
  /** A client whose publishes fail with `failures` in turn, then are stored as duplicates. */
  const client = (failures: Error[]) => {
    const ids: string[] = [];
    const js = {
      publish: (_subject: string, _data: Uint8Array, options: { msgID: string }) => {
        ids.push(options.msgID);
        const failure = failures.shift();
        if (failure) return Promise.reject(failure);
        return Promise.resolve({ stream: 'ONPUSH', seq: 7, duplicate: true } as PubAck);
      },
    } as unknown as JetStreamClient;
    return { js, ids };
  };

  it('publishes again while the same id is being stored, and finds it a duplicate', async () => {
    const { js, ids } = client([inProcess(), inProcess()]);
    const published = await publisher(js, [1, 1, 1])('onpush.raw.gar', new Uint8Array(), {
      msgId: 'gar:1',
    });
    expect(published).toEqual({ stream: 'ONPUSH', seq: 7, duplicate: true });
    expect(ids).toEqual(Array(3).fill('onpush.raw.gar|gar:1'));
  });

  it("in a fleet's cluster, stamps the cluster on every id and as a header", async () => {
    const seen: { msgID: string; cluster: string | undefined }[] = [];
    const js = {
      publish: (_s: string, _d: Uint8Array, o: { msgID: string; headers: MsgHdrs }) => {
        seen.push({ msgID: o.msgID, cluster: o.headers.get(HEADERS.cluster) || undefined });
        return Promise.resolve({ stream: 'ONPUSH_OUTCOMES', seq: 1, duplicate: false } as PubAck);
      },
    } as unknown as JetStreamClient;
    await publisher(js, [], 'prod-a')('onpush.outcome.restarted', new Uint8Array(), {
      msgId: 'k',
      headers: { [HEADERS.eventId]: 'gar:1' },
    });
    await publisher(js)('onpush.outcome.restarted', new Uint8Array(), { msgId: 'k' });
    expect(seen).toEqual([
      { msgID: 'prod-a@onpush.outcome|k', cluster: 'prod-a' },
      { msgID: 'onpush.outcome|k', cluster: undefined },
    ]);
  });

  it('gives up after its delays, and at once on any other error', async () => {
    const stuck = client([inProcess(), inProcess(), inProcess()]);
    await expect(
      publisher(stuck.js, [1, 1])('onpush.raw.gar', new Uint8Array(), { msgId: 'gar:1' }),
    ).rejects.toThrow('in process');
    expect(stuck.ids).toHaveLength(3);
    const refused = client([
      new JetStreamApiError({ code: 503, err_code: 10008, description: 'unavailable' }),
    ]);
    await expect(
      publisher(refused.js, [1, 1])('onpush.raw.gar', new Uint8Array(), { msgId: 'gar:1' }),
    ).rejects.toThrow('unavailable');
    expect(refused.ids).toHaveLength(1);
  });
});
