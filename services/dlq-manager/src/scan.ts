// Reading ONPUSH_DLQ in stream order with an ordered consumer: ephemeral, no acks, in memory on
// the server, deleted when the scan ends. The pending count says when the scan is complete, so
// it never waits for messages that will not come.
import { DEAD_ALL, STREAMS, deadSubject, type Stage } from '@onpush/contracts';
import type { JetStreamClient } from '@onpush/nats';
import type { RawEntry } from './entry.js';

const BATCH = 256;
const FETCH_EXPIRES_MS = 5_000;

/** Every stored entry (of one stage's subject when given), oldest first. */
export async function* scanDlq(js: JetStreamClient, stage?: Stage): AsyncGenerator<RawEntry> {
  const subject = stage === undefined ? DEAD_ALL : deadSubject(stage);
  const consumer = await js.consumers.get(STREAMS.dlq, { filter_subjects: subject });
  try {
    let pending = (await consumer.info(true)).num_pending;
    while (pending > 0) {
      const batch = await consumer.fetch({
        max_messages: Math.min(pending, BATCH),
        expires: FETCH_EXPIRES_MS,
      });
      let received = 0;
      for await (const m of batch) {
        received += 1;
        pending = m.info.pending;
        yield { seq: m.seq, subject: m.subject, data: m.data, time: m.time };
        if (pending === 0) break;
      }
      // Entries purged meanwhile: the pending count was stale, nothing more will come.
      if (received === 0) break;
    }
  } finally {
    await consumer.delete().catch(() => false);
  }
}
