import type { Publish } from '@onpush/nats';

/** What an ack needs of a delivery: JetStream's `JsMsg` has it; tests give a fake. */
export interface Ackable {
  ack(): void;
}

/**
 * How long a handled delivery's ack may wait for the stage's next publish. An ack is a message to
 * nats-server that nothing answers; sent on its own it is one more socket write for the stage and
 * one more read for the server. Sent just before the next publish, it leaves in the same write
 * (the client library writes what was queued in one go). At 5 deliveries a second or more, every
 * ack rides along; below that, it goes alone after 200 ms. Either way it leaves long before the
 * ack wait (10 s and more), and only after everything the delivery produced was stored, so what a
 * crash in between costs is what it cost before: a redelivery that publishes duplicates the stream
 * drops.
 */
export const ACK_LINGER_MS = 200;

/**
 * At most this many acks wait: a stage that handles deliveries quickly without publishing (the
 * dlq-manager's index) sends them in batches of this size rather than holding the consumer's
 * `max_ack_pending` (64 for the restarter) for the linger.
 */
export const ACK_BATCH = 16;

/**
 * The acks of handled deliveries, sent with the stage's next publish (`flush`, called right
 * before it), after `lingerMs`, or once `batch` wait — whichever is first. `sent` runs for each
 * ack as it goes (the failover keeps it, to send again through another server).
 */
export class LingeringAcks<M extends Ackable = Ackable> {
  private pending: M[] = [];
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly sent: (m: M) => void = () => undefined,
    private readonly lingerMs: number = ACK_LINGER_MS,
    private readonly batch: number = ACK_BATCH,
  ) {}

  /** Acks `m` with the next publish, or within `lingerMs`. */
  add(m: M): void {
    this.pending.push(m);
    if (this.lingerMs <= 0 || this.pending.length >= this.batch) this.flush();
    else this.timer ??= setTimeout(() => this.flush(), this.lingerMs);
  }

  /** Sends every waiting ack now (queued in the client: it leaves with what is queued next). */
  flush(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    const acks = this.pending;
    if (acks.length === 0) return;
    this.pending = [];
    for (const m of acks) {
      try {
        m.ack();
      } catch {
        continue; // its connection closed: JetStream redelivers it after the ack wait, as it would
      }
      this.sent(m);
    }
  }

  /** How many acks wait. */
  get size(): number {
    return this.pending.length;
  }
}

/**
 * `publish`, sending the acks that wait just before it: the client library queues both and writes
 * them to the socket together, provided `publish` hands its message to the library synchronously
 * (`publisher` of `@onpush/nats` does: nothing is awaited before `js.publish`).
 */
export function withAcks(publish: Publish, acks: Pick<LingeringAcks, 'flush'>): Publish {
  return (subject, data, options) => {
    acks.flush();
    return publish(subject, data, options);
  };
}
