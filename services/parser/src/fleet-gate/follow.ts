// The gates' view of the fleet: the hub's ONPUSH_OUTCOMES followed from FLEET_WAVE_TIMEOUT (and
// the soak) ago, every cluster's outcome folded into Settlements as it is stored, and the
// clusters read from the stream's sources. Each replica of the parser follows for itself, so any
// replica judges alike; after a restart the fold is read again from the stream.
import { FLEET_WAVE_ALL, HEADERS, STREAMS, OutcomeSchema, decode } from '@onpush/contracts';
import {
  fleetClusters,
  followStream,
  type JetStreamClient,
  type NatsConnection,
} from '@onpush/nats';
import type { Logger } from '@onpush/telemetry';
import { Settlements } from './settlements.js';

export interface FleetView {
  readonly settlements: Settlements;
  clusters(): readonly string[];
  caughtUp(): boolean;
  stop(): Promise<void>;
}

/** How often the clusters are read again and old pushes forgotten. */
const REFRESH_MS = 30_000;

export async function followFleet(
  nc: NatsConnection,
  js: JetStreamClient,
  options: { readonly windowMs: number; readonly log: Logger; readonly now?: () => number },
): Promise<FleetView> {
  const now = options.now ?? Date.now;
  const jsm = await js.jetstreamManager();
  // A gate could only fail to publish what it lets through: say so at once instead.
  const main = await jsm.streams.info(STREAMS.main);
  if (!main.config.subjects.includes(FLEET_WAVE_ALL))
    throw new Error(
      `FLEET_WAVES is set but stream ${STREAMS.main} does not take ${FLEET_WAVE_ALL}: provision the hub with --fleet-waves (the same list)`,
    );
  const settlements = new Settlements();
  let clusters = await fleetClusters(nc);
  const since = new Date(now() - options.windowMs);
  const { state } = await jsm.streams.info(STREAMS.outcomes);
  const lastAtStart = state.last_seq;
  // Nothing stored since the window began: nothing to read before judging.
  let caughtUp = lastAtStart === 0 || Date.parse(state.last_ts) < since.getTime();
  const following = await followStream(js, STREAMS.outcomes, { since });
  const read = (async () => {
    for await (const m of following.messages) {
      const decoded = decode(OutcomeSchema, m.data, 'Outcome');
      if (decoded.ok) settlements.fold(decoded.value, m.headers?.get(HEADERS.cluster) || undefined);
      if (m.seq >= lastAtStart) caughtUp = true;
    }
  })().catch((error: unknown) =>
    options.log.error('fleet waves: following the outcomes stopped', { error }),
  );
  const refresh = setInterval(() => {
    settlements.forget(now() - options.windowMs);
    fleetClusters(nc).then(
      (found) => (clusters = found),
      (error: unknown) => options.log.warn('fleet waves: cannot read the clusters', { error }),
    );
  }, REFRESH_MS);
  refresh.unref();
  let stopped: Promise<void> | undefined;
  return {
    settlements,
    clusters: () => clusters,
    caughtUp: () => caughtUp,
    stop() {
      clearInterval(refresh);
      stopped ??= following.stop().then(() => read);
      return stopped;
    },
  };
}
