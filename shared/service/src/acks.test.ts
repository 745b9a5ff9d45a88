import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { ACK_BATCH, ACK_LINGER_MS, LingeringAcks, withAcks } from './acks.js';

class Delivery {
  acked = 0;
  constructor(readonly name: string) {}
  ack(): void {
    this.acked += 1;
  }
}

describe('LingeringAcks', () => {
  beforeEach(() => vi.useFakeTimers());
  afterEach(() => vi.useRealTimers());

  it('holds an ack until the next flush (the next publish), then sends it once', () => {
    const sent: string[] = [];
    const acks = new LingeringAcks<Delivery>((m) => sent.push(m.name));
    const a = new Delivery('a');
    const b = new Delivery('b');
    acks.add(a);
    acks.add(b);
    expect([a.acked, b.acked, acks.size]).toEqual([0, 0, 2]);
    acks.flush();
    expect([a.acked, b.acked, acks.size]).toEqual([1, 1, 0]);
    expect(sent).toEqual(['a', 'b']);
    acks.flush();
    vi.advanceTimersByTime(ACK_LINGER_MS * 2);
    expect([a.acked, b.acked]).toEqual([1, 1]);
  });

  it('sends an ack nobody flushed once the linger is over, and not before', () => {
    const acks = new LingeringAcks<Delivery>();
    const a = new Delivery('a');
    acks.add(a);
    vi.advanceTimersByTime(ACK_LINGER_MS - 1);
    expect(a.acked).toBe(0);
    const b = new Delivery('b'); // joins the waiting batch: the timer is the first ack's
    acks.add(b);
    vi.advanceTimersByTime(1);
    expect([a.acked, b.acked, acks.size]).toEqual([1, 1, 0]);
  });

  it('sends a full batch at once instead of holding the consumer’s ack-pending slots', () => {
    const acks = new LingeringAcks<Delivery>();
    const batch = Array.from({ length: ACK_BATCH }, (_, i) => new Delivery(`m${i}`));
    for (const m of batch.slice(0, -1)) acks.add(m);
    expect(batch.every((m) => m.acked === 0)).toBe(true);
    acks.add(batch.at(-1)!);
    expect(batch.every((m) => m.acked === 1)).toBe(true);
    expect(acks.size).toBe(0);
  });

  it('an ack its closed connection refuses is skipped; the others still go', () => {
    const sent: string[] = [];
    const acks = new LingeringAcks<Delivery>((m) => sent.push(m.name));
    const closed = new Delivery('closed');
    closed.ack = () => {
      throw new Error('closed connection');
    };
    const b = new Delivery('b');
    acks.add(closed);
    acks.add(b);
    expect(() => vi.advanceTimersByTime(ACK_LINGER_MS)).not.toThrow();
    expect([b.acked, acks.size]).toEqual([1, 0]);
    expect(sent).toEqual(['b']);
  });

  it('with no linger, acks at once', () => {
    const acks = new LingeringAcks<Delivery>(undefined, 0);
    const a = new Delivery('a');
    acks.add(a);
    expect(a.acked).toBe(1);
  });

  it('a publish sends the waiting acks first, in the same synchronous step', async () => {
    const order: string[] = [];
    const acks = new LingeringAcks<Delivery>((m) => order.push(`ack ${m.name}`));
    const publish = withAcks((subject) => {
      order.push(`publish ${subject}`);
      return Promise.resolve({ stream: 'ONPUSH', seq: 1, duplicate: false });
    }, acks);
    acks.add(new Delivery('a'));
    const published = publish('onpush.pushed', new Uint8Array(), { msgId: 'x' });
    expect(order).toEqual(['ack a', 'publish onpush.pushed']); // before anything was awaited
    await published;
    await publish('onpush.pushed', new Uint8Array(), { msgId: 'y' });
    expect(order).toEqual(['ack a', 'publish onpush.pushed', 'publish onpush.pushed']);
  });
});
