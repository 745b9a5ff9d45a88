// Reading ONPUSH_DLQ in stream order (scanStream: an ordered consumer that ends when nothing is
// pending).
import { DEAD_ALL, HEADERS, STREAMS, deadSubject, type Stage } from '@onpush/contracts';
import { scanStream, type JetStreamClient } from '@onpush/nats';
import type { RawEntry } from './entry.js';

/** Every stored entry (of one stage's subject when given), oldest first. */
export async function* scanDlq(js: JetStreamClient, stage?: Stage): AsyncGenerator<RawEntry> {
  const subjects = stage === undefined ? DEAD_ALL : deadSubject(stage);
  for await (const m of scanStream(js, STREAMS.dlq, { subjects })) {
    const cluster = m.headers?.get(HEADERS.cluster) || undefined;
    yield { seq: m.seq, subject: m.subject, data: m.data, time: m.time, cluster };
  }
}
