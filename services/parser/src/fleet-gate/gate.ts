// The gate of one later wave of a fleet's clusters (FLEET_WAVES), at the hub: a push stored on
// `onpush.pushed` is held — NAKed with a delay, JetStream keeps it — until every cluster of the
// earlier waves settled it (Settlements) and FLEET_WAVE_SOAK passed, then let through on
// `onpush.fleet.wave.<n>`, which the wave's clusters copy. A failure there, or no settlement
// within FLEET_WAVE_TIMEOUT, ends the push `halted` for each cluster of this wave instead: it
// never reaches them, and the hub's audit counts that fate for them.
import {
  HEADERS,
  ImagePushedSchema,
  decode,
  earlierWaveClusters,
  encode,
  fleetWaveOf,
  fleetWaveSubject,
  outcomeSubject,
  type FleetWaves,
  type Outcome,
} from '@onpush/contracts';
import { Held, eventIdOf, type Incoming, type Outgoing } from '@onpush/service';
import {
  ATTR_ONPUSH_DETAIL,
  ATTR_ONPUSH_EVENT_ID,
  ATTR_ONPUSH_WAVE,
  ATTR_ONPUSH_WAVE_VERDICT,
  SpanKind,
  recordSpan,
  type Logger,
} from '@onpush/telemetry';
import { derivedHeaders } from '../outgoing.js';
import type { Settlement, Settlements } from './settlements.js';

export interface WaveGateOptions {
  readonly wave: number;
  readonly waves: FleetWaves;
  /** The fleet's clusters (the domains the hub's outcomes copy from). */
  readonly clusters: () => readonly string[];
  readonly settlements: Settlements;
  /** False until the outcomes stored before the gate started were folded in. */
  readonly caughtUp: () => boolean;
  readonly soakMs: number;
  readonly timeoutMs: number;
  readonly now?: () => number;
  readonly log?: Logger;
}

/** How long one hold lasts: short at first (a quick wave), then every 5 s. */
export function holdMs(deliveryCount: number): number {
  return Math.min(5_000, 500 * Math.max(1, deliveryCount));
}

type Verdict =
  | { readonly state: 'open'; readonly detail: string }
  | {
      readonly state: 'halted';
      readonly reason: 'wave_failed' | 'wave_timeout';
      readonly detail: string;
    }
  | { readonly state: 'waiting'; readonly detail: string; readonly forMs: number };

/** The verdict on one push for wave `wave`, from what the earlier waves' clusters made of it. */
export function verdictOf(
  judged: readonly Settlement[],
  earlier: readonly string[],
  elapsedMs: number,
  options: Pick<WaveGateOptions, 'soakMs' | 'timeoutMs'> & { now: number; deliveryCount: number },
): Verdict {
  const failed = judged.find((s) => s.state === 'failed');
  if (failed) return { state: 'halted', reason: 'wave_failed', detail: failed.detail };
  const pending = judged.filter((s) => s.state === 'pending');
  const left = options.timeoutMs - elapsedMs;
  if (pending.length === 0) {
    const settledAt = Math.max(0, ...judged.map((s) => (s.state === 'settled' ? s.at : 0)));
    const soakLeft = settledAt + options.soakMs - options.now;
    const who = earlier.length ? earlier.join(', ') : 'no earlier cluster';
    if (soakLeft <= 0) return { state: 'open', detail: `settled in ${who}` };
    if (left <= 0)
      return {
        state: 'halted',
        reason: 'wave_timeout',
        detail: `still soaking after ${elapsedMs} ms`,
      };
    return { state: 'waiting', detail: `soaking (${who})`, forMs: Math.min(soakLeft, left) };
  }
  const waiting = pending.map((s) => s.waiting).join('; ');
  if (left <= 0)
    return {
      state: 'halted',
      reason: 'wave_timeout',
      detail: `not settled within ${options.timeoutMs} ms: ${waiting}`,
    };
  return {
    state: 'waiting',
    detail: waiting,
    forMs: Math.min(holdMs(options.deliveryCount), left),
  };
}

/** The handler of wave `options.wave`'s gate: throws Held while it waits. */
export function createWaveGate(options: WaveGateOptions) {
  const now = options.now ?? Date.now;
  const { wave, waves } = options;
  return (msg: Incoming): Promise<Outgoing[]> => {
    const eventId = eventIdOf(msg);
    if (!options.caughtUp()) throw new Held("reading the clusters' outcomes before judging", 1_000);
    const clusters = options.clusters();
    const earlier = earlierWaveClusters(waves, clusters, wave);
    const at = now();
    const storedAt = msg.storedAt?.getTime() ?? at;
    const verdict = verdictOf(
      earlier.map((c) => options.settlements.judge(eventId, c)),
      earlier,
      at - storedAt,
      {
        soakMs: options.soakMs,
        timeoutMs: options.timeoutMs,
        now: at,
        deliveryCount: msg.deliveryCount,
      },
    );
    if (verdict.state === 'waiting')
      throw new Held(`wave ${wave} waits: ${verdict.detail}`, verdict.forMs);
    recordSpan({
      name: 'fleet wave gate',
      kind: SpanKind.INTERNAL,
      startTime: storedAt,
      endTime: at,
      attributes: {
        [ATTR_ONPUSH_EVENT_ID]: eventId,
        [ATTR_ONPUSH_WAVE]: wave,
        [ATTR_ONPUSH_WAVE_VERDICT]: verdict.state,
        [ATTR_ONPUSH_DETAIL]: verdict.detail,
      },
      ...(verdict.state === 'halted'
        ? { failed: { type: verdict.reason, message: verdict.detail } }
        : {}),
    });
    const mine = clusters.filter((c) => fleetWaveOf(waves, c) === wave);
    options.log?.info(verdict.state === 'open' ? 'wave let through' : 'wave halted', {
      eventId,
      wave,
      clusters: mine,
      detail: verdict.detail,
    });
    if (verdict.state === 'open')
      return Promise.resolve([
        {
          subject: fleetWaveSubject(wave),
          data: msg.data,
          msgId: `${eventId}:wave:${wave}`,
          headers: derivedHeaders(msg, eventId),
        },
      ]);
    return Promise.resolve(
      mine.map((cluster) => haltedOutgoing(msg, eventId, cluster, verdict, new Date(at))),
    );
  };
}

/** The fate `halted` of push `eventId` in `cluster`: what its wave's gate decided instead. */
function haltedOutgoing(
  msg: Incoming,
  eventId: string,
  cluster: string,
  verdict: { reason: string; detail: string },
  at: Date,
): Outgoing {
  const pushed = decode(ImagePushedSchema, msg.data, 'ImagePushed');
  const outcome: Outcome = {
    v: 1,
    eventId,
    fate: 'halted',
    stage: 'parser',
    reason: verdict.reason,
    detail: verdict.detail,
    ...(pushed.ok
      ? {
          image: pushed.value.image,
          ...(pushed.value.tag === undefined ? {} : { tag: pushed.value.tag }),
          ...(pushed.value.digest === undefined ? {} : { digest: pushed.value.digest }),
          ...(pushed.value.pushedAt === undefined ? {} : { pushedAt: pushed.value.pushedAt }),
        }
      : {}),
    at: at.toISOString(),
  };
  const headers = { ...derivedHeaders(msg, eventId), [HEADERS.cluster]: cluster };
  return {
    subject: outcomeSubject('halted'),
    data: encode(outcome),
    msgId: `${eventId}:halted:${cluster}`,
    headers,
  };
}
