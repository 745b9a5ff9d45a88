import { describe, expect, it, vi } from 'vitest';
import { dedupId, toMsgHdrs, type Publish } from '@onpush/nats';
import {
  PayloadTooLargeError,
  headerBytes,
  limitPayload,
  sentHeaderBytes,
} from './payload-limit.js';

const ok = { stream: 'ONPUSH', seq: 1, duplicate: false };
const headers = { 'Onpush-Event-Id': 'gar:1', 'Onpush-Transport-x': 'héllo' };

describe('headerBytes', () => {
  it('is the size of the headers as the NATS client encodes them', () => {
    const encoded = (toMsgHdrs(headers) as unknown as { encode(): Uint8Array }).encode();
    expect(headerBytes(headers)).toBe(encoded.length);
    const withId = { ...headers, 'Nats-Msg-Id': dedupId('onpush.raw.gar', 'gar:1') };
    const sent = (toMsgHdrs(withId) as unknown as { encode(): Uint8Array }).encode();
    expect(sentHeaderBytes('onpush.raw.gar', { msgId: 'gar:1', headers })).toBe(sent.length);
  });
});

describe('limitPayload', () => {
  const overhead = sentHeaderBytes('onpush.raw.gar', { msgId: 'gar:1', headers });

  it('publishes what fits: data plus headers up to max_payload', async () => {
    const publish = vi.fn<Publish>(() => Promise.resolve(ok));
    const limited = limitPayload(publish, () => 1_000);
    const data = new Uint8Array(1_000 - overhead);
    expect(await limited('onpush.raw.gar', data, { msgId: 'gar:1', headers })).toEqual(ok);
    expect(publish).toHaveBeenCalledOnce();
  });

  it('refuses one byte more without publishing, naming the sizes and the limit', async () => {
    const publish = vi.fn<Publish>(() => Promise.resolve(ok));
    const limited = limitPayload(publish, () => 1_000);
    const data = new Uint8Array(1_001 - overhead);
    const refused = limited('onpush.raw.gar', data, { msgId: 'gar:1', headers });
    await expect(refused).rejects.toBeInstanceOf(PayloadTooLargeError);
    await expect(refused).rejects.toMatchObject({
      type: 'payload_too_large',
      retryable: false,
      dataBytes: data.length,
      headerBytes: overhead,
      maxPayload: 1_000,
      dataLimit: 1_000 - overhead,
      message: expect.stringContaining('max_payload of 1000 bytes') as unknown,
    });
    expect(publish).not.toHaveBeenCalled();
  });

  it("turns the client's own max_payload refusal into the same error", async () => {
    const clientError = Object.assign(new Error("'payload' max_payload size exceeded"), {
      name: 'InvalidArgumentError',
    });
    const limited = limitPayload(
      () => Promise.reject(clientError),
      () => 1_000,
    );
    await expect(limited('s', new Uint8Array(10), { msgId: 'k' })).rejects.toBeInstanceOf(
      PayloadTooLargeError,
    );
  });

  it('checks nothing while the limit is unknown (not connected yet); other errors pass through', async () => {
    const publish = vi.fn<Publish>(() => Promise.reject(new Error('timeout')));
    const limited = limitPayload(publish, () => undefined);
    await expect(limited('s', new Uint8Array(5_000_000), { msgId: 'k' })).rejects.toThrow(
      'timeout',
    );
    expect(publish).toHaveBeenCalledOnce();
  });
});
