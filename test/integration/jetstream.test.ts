import { describe, expect, it } from 'vitest';
import { PUSHED, RAW_ALL, STREAMS, TOPOLOGY, rawSubject } from '@onpush/contracts';
import {
  connectNats,
  jetstream,
  jetstreamManager,
  provision,
  publisher,
  type JsMsg,
  type NatsConnection,
} from '@onpush/nats';
import { useSandbox } from '@onpush/testing';

const encoder = new TextEncoder();

async function withConnection<T>(url: string, run: (nc: NatsConnection) => Promise<T>): Promise<T> {
  const nc = await connectNats({ url, name: 'onpush-test' });
  try {
    return await run(nc);
  } finally {
    await nc.close();
  }
}

// Given a real nats-server with JetStream on disk.
describe('JetStream', () => {
  const sandbox = useSandbox(['nats'], 'jetstream', { provision: false });
  const url = (): string => sandbox().need('nats').url;

  it('provisions the onpush topology idempotently: the second run changes nothing', async () => {
    await withConnection(url(), async (nc) => {
      const jsm = await jetstreamManager(nc);
      const first = await provision(jsm, TOPOLOGY);
      const second = await provision(jsm, TOPOLOGY);

      expect(first.map((c) => c.action)).toEqual(first.map(() => 'created'));
      expect(second.map((c) => [c.name, c.action])).toEqual(
        first.map((c) => [c.name, 'unchanged']),
      );
      const info = await jsm.streams.info(STREAMS.main);
      expect(info.config.storage).toBe('file');
      expect(info.config.duplicate_window).toBe(120_000_000_000);
      const consumer = await jsm.consumers.info(STREAMS.main, 'parser');
      expect(consumer.config.filter_subject).toBe(RAW_ALL);
      expect(consumer.config.ack_wait).toBe(10_000_000_000);
      expect(consumer.config.backoff ?? []).toEqual([]);
    });
  });

  it('stores a message once per Nats-Msg-Id and reports the duplicate', async () => {
    await withConnection(url(), async (nc) => {
      await provision(await jetstreamManager(nc), TOPOLOGY);
      const publish = publisher(jetstream(nc));
      const first = await publish(PUSHED, encoder.encode('{"n":1}'), { msgId: 'dup-1' });
      const again = await publish(PUSHED, encoder.encode('{"n":1}'), { msgId: 'dup-1' });

      expect(first.duplicate).toBe(false);
      expect(again).toEqual({ stream: STREAMS.main, seq: first.seq, duplicate: true });
      const stored = await (
        await jetstreamManager(nc)
      ).streams.getMessage(STREAMS.main, { seq: first.seq });
      expect(stored?.json()).toEqual({ n: 1 });
    });
  });

  it('delivers to the durable pull consumer, redelivers after a NAK with delay, and an ack settles it', async () => {
    await withConnection(url(), async (nc) => {
      const jsm = await jetstreamManager(nc);
      await provision(jsm, TOPOLOGY);
      const js = jetstream(nc);
      await publisher(js)(rawSubject('gar'), encoder.encode('raw-body'), { msgId: 'nak-1' });

      const consumer = await js.consumers.get(STREAMS.main, 'parser');
      const first = await consumer.next({ expires: 5_000 });
      expect(first?.string()).toBe('raw-body');
      expect(first?.info.deliveryCount).toBe(1);
      const nakAt = Date.now();
      first?.nak(400);

      const second: JsMsg | null = await consumer.next({ expires: 5_000 });
      const waited = Date.now() - nakAt;
      expect(second?.string()).toBe('raw-body');
      expect(second?.info.deliveryCount).toBe(2);
      expect(waited).toBeGreaterThanOrEqual(350);
      expect(await second?.ackAck()).toBe(true);

      const info = await jsm.consumers.info(STREAMS.main, 'parser');
      expect(info.num_ack_pending).toBe(0);
      expect(info.num_pending).toBe(0);
    });
  });

  it('keeps stored messages across a kill -9 and restart of the server on the same store', async () => {
    const nats = sandbox().need('nats');
    const seq = await withConnection(url(), async (nc) => {
      await provision(await jetstreamManager(nc), TOPOLOGY);
      return (
        await publisher(jetstream(nc))(PUSHED, encoder.encode('survives'), { msgId: 'crash-1' })
      ).seq;
    });
    await nats.kill();
    expect(nats.pid).toBeUndefined();
    await nats.start();

    await withConnection(url(), async (nc) => {
      const stored = await (await jetstreamManager(nc)).streams.getMessage(STREAMS.main, { seq });
      expect(stored?.string()).toBe('survives');
    });
  });

  it('keeps every acknowledged message when the server is killed in the middle of a publish burst', async () => {
    const nats = sandbox().need('nats');
    const acked: number[] = [];
    await withConnection(url(), async (nc) => {
      await provision(await jetstreamManager(nc), TOPOLOGY);
      const publish = publisher(jetstream(nc));
      // 64 publishers at once, for as long as the server answers; SIGKILL after the 500th ack
      let n = 0;
      let killed: Promise<void> | undefined;
      const worker = async (): Promise<void> => {
        while (killed === undefined) {
          n += 1;
          const body = `burst-${n}`;
          const ok = await publish(rawSubject('gar'), encoder.encode(body), {
            msgId: body,
            timeoutMs: 2_000,
          }).catch(() => undefined);
          if (ok === undefined) return;
          acked.push(ok.seq);
          if (acked.length === 500) killed = nats.kill();
        }
      };
      await Promise.all(Array.from({ length: 64 }, worker));
      await killed;
    });
    await nats.start();

    // Then every message the server acknowledged before it died is in the stream
    await withConnection(url(), async (nc) => {
      const jsm = await jetstreamManager(nc);
      const missing: number[] = [];
      for (const seq of acked) {
        const stored = await jsm.streams.getMessage(STREAMS.main, { seq }).catch(() => null);
        if (!stored?.string().startsWith('burst-')) missing.push(seq);
      }
      expect(acked.length).toBeGreaterThanOrEqual(500);
      expect(missing).toEqual([]);
    });
  });
});
