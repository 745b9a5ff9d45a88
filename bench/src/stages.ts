import { STREAMS, parseOutcome } from '@onpush/contracts';
import { connectNats, jetstream, jetstreamManager, type NatsConnection } from '@onpush/nats';
import { summarize, type Summary } from './stats.js';

interface Stamped {
  subject: string;
  ms: number;
  eventId: string;
  data: Uint8Array;
}

async function readStream(nc: NatsConnection, stream: string, fromSeq: number): Promise<Stamped[]> {
  const last = (await (await jetstreamManager(nc)).streams.info(stream)).state.last_seq;
  if (last < fromSeq) return [];
  const consumer = await jetstream(nc).consumers.get(stream, { opt_start_seq: fromSeq });
  const out: Stamped[] = [];
  for (;;) {
    const m = await consumer.next({ expires: 2_000 });
    if (!m) break;
    const eventId = (m.headers?.get('Onpush-Event-Id') ?? '').split('#')[0] ?? '';
    out.push({
      subject: m.subject,
      ms: Number(m.info.timestampNanos) / 1e6,
      eventId,
      data: m.data,
    });
    if (m.seq >= last) break;
  }
  return out;
}

export interface StageTimes {
  /** HTTP POST sent → raw delivery stored (ingest, and the HTTP round trip's first half). */
  ingest?: Summary;
  parser: Summary;
  resolver: Summary;
  /** Restart request stored → the watch shows the PATCH (the restarter, then the API server). */
  patchSeen?: Summary;
  restarter: Summary;
}

/** What the bench itself saw of each event, in performance.now() time. */
export interface BenchClock {
  sentAt: ReadonlyMap<string, number>;
  seen: ReadonlyMap<string, readonly number[]>;
}

/** performance.now() → epoch ms, the clock of JetStream's timestamps (same machine). */
const wall = (perf: number): number => performance.timeOrigin + perf;

/**
 * Where the time goes, from JetStream's own timestamps: raw stored → ImagePushed stored (parser),
 * → restart request stored (resolver), → the workload's outcome stored (restarter, which
 * includes the GET and PATCH). Events whose id starts with `prefix` only.
 */
export async function stageTimes(
  natsUrl: string,
  prefix: string,
  clock?: BenchClock,
): Promise<StageTimes> {
  const nc = await connectNats({ url: natsUrl, name: 'onpush-bench-stages' });
  try {
    const firsts = new Map<string, Record<string, number>>();
    for (const m of await readStream(nc, STREAMS.main, 1)) {
      if (!m.eventId.startsWith(prefix)) continue;
      const kind = m.subject.split('.')[1] ?? '';
      const entry = firsts.get(m.eventId) ?? {};
      entry[kind] ??= m.ms;
      firsts.set(m.eventId, entry);
    }
    for (const m of await readStream(nc, STREAMS.outcomes, 1)) {
      const outcome = parseOutcome(m.data);
      const entry = firsts.get(outcome.eventId.split('#')[0] ?? '');
      if (entry && outcome.workload) entry['outcome'] ??= m.ms;
    }
    if (clock) {
      for (const [eventId, entry] of firsts) {
        const sent = clock.sentAt.get(eventId);
        const seen = clock.seen.get(eventId)?.[0];
        if (sent !== undefined) entry['sent'] = wall(sent);
        if (seen !== undefined) entry['seen'] = wall(seen);
      }
    }
    const gap = (from: string, to: string): number[] =>
      [...firsts.values()].flatMap((e) =>
        e[from] !== undefined && e[to] !== undefined ? [e[to] - e[from]] : [],
      );
    return {
      ...(clock ? { ingest: summarize(gap('sent', 'raw')) } : {}),
      parser: summarize(gap('raw', 'pushed')),
      resolver: summarize(gap('pushed', 'restart')),
      ...(clock ? { patchSeen: summarize(gap('restart', 'seen')) } : {}),
      restarter: summarize(gap('restart', 'outcome')),
    };
  } finally {
    await nc.close();
  }
}
