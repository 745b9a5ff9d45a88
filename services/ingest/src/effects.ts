import type { PubSub } from '@google-cloud/pubsub';
import { BUCKETS, TOPOLOGY, OnpushError } from '@onpush/contracts';
import {
  bindBucket,
  closeGracefully,
  kvCasStore,
  connectNats,
  jetstream,
  jetstreamManager,
  type NatsConnection,
  requireStreams,
  type Publish,
  publisher,
  Failover,
  failingOver,
} from '@onpush/nats';
import { instrumentPublish, type Route, type ServiceEffects } from '@onpush/service';
import type { Logger } from '@onpush/telemetry';
import type { IngestConfig } from './config.js';
import type { IngestMetrics } from './metrics.js';
import { NatsLink, type Statuses } from './nats-link.js';
import { limitPayload } from './payload-limit.js';
import { createPubSub, ensureSubscription, pullSubscription } from './pubsub-client.js';
import { startPull, type PullHandle } from './pubsub.js';
import { BodyBudget } from './body.js';
import { pushRoute } from './push.js';
import { repeatMemory, type Remembered, type RepeatMemory } from './repeats.js';
import { traceIngest } from './telemetry.js';
import type { Endpoint } from './webhooks/endpoints.js';
import type { Fetcher } from './webhooks/fetch.js';
import { webhookRoute } from './webhooks/route.js';

/** Publishing while ingest is not connected (or already draining). Retryable: try again later. */
export class NotConnectedError extends OnpushError {
  override readonly name = 'NotConnectedError';
  constructor(message: string, options?: ErrorOptions) {
    super(message, { ...options, type: 'not_connected', retryable: true });
  }
}

/** Work in flight (pulled messages, push requests), so drain can wait for it. */
export class InFlight {
  private readonly tasks = new Set<Promise<unknown>>();

  readonly track = (task: Promise<unknown>): void => {
    const settled = task.then(
      () => undefined,
      () => undefined,
    );
    this.tasks.add(settled);
    void settled.finally(() => this.tasks.delete(settled));
  };

  get size(): number {
    return this.tasks.size;
  }

  /** Resolves once everything in flight now has settled. */
  async settled(): Promise<void> {
    await Promise.allSettled([...this.tasks]);
  }
}

/** What request bodies the HTTP routes may hold and read at once, from the configuration. */
export function bodyBudget(config: IngestConfig): BodyBudget {
  return new BodyBudget({
    maxBufferedBytes: config.MAX_BUFFERED_BYTES,
    maxConcurrentReads: config.MAX_CONCURRENT_BODIES,
    queueMs: config.BODY_QUEUE_TIMEOUT,
    drainBytes: config.HTTP_DRAIN_BYTES,
    drainMs: config.HTTP_DRAIN_TIMEOUT,
  });
}

export interface IngestOptions {
  config: IngestConfig;
  log: Logger;
  metrics: IngestMetrics;
  /**
   * The webhook endpoints (`POST /webhooks/<name>`, each authenticated). Undefined: none. The
   * Pub/Sub push routes `/pubsub/push` and `/webhooks/gcr` without authentication exist only with
   * INSECURE_ALLOW_ANONYMOUS_PUSH (and PUBSUB_PULL=false).
   */
  endpoints?: readonly Endpoint[] | undefined;
  /** How webhook authentication fetches keys and certificates (tests). */
  fetcher?: Fetcher;
}

export interface Ingest {
  effects: ServiceEffects;
  routes: Route[];
  /**
   * Readiness on top of the lifecycle's `running`: NATS connected and the topology provisioned,
   * the same condition the publish gate checks (runService's `ready`).
   */
  ready: () => boolean;
}

/** The streams ingest publishes to are there (provisioning made them; ingest may not). */
async function provisionTopology(nc: NatsConnection): Promise<void> {
  const { main, dlq, outcomes } = TOPOLOGY.streams;
  await requireStreams(await jetstreamManager(nc), [main.name, dlq.name, outcomes.name]);
}

/**
 * Connects to NATS and provisions the topology, then runs `more`; closes again if any step fails.
 * The status stream is taken at once, so no disconnect after the connect is missed.
 */
async function connectJetStream(
  config: IngestConfig,
  more?: (nc: NatsConnection) => Promise<void>,
): Promise<{ nc: NatsConnection; statuses: Statuses }> {
  const nc = await connectNats({
    url: config.NATS_URL,
    name: 'onpush-ingest',
    credentialsDir: config.NATS_CREDENTIALS_DIR,
    identity: 'ingest',
    user: config.NATS_USER,
    pass: config.NATS_PASSWORD,
  });
  const statuses = nc.status();
  try {
    await provisionTopology(nc);
    await more?.(nc);
    return { nc, statuses };
  } catch (error) {
    await nc.close();
    throw error;
  }
}

/**
 * Ingest's effects: connect binds NATS (provisioning the topology) and, when asked, creates the
 * Pub/Sub topic and subscription; run pulls; drain stops pulling, waits for what is in flight,
 * then drains NATS. The push route publishes through the same connection. A publish is refused
 * at once (503 / nack) whenever the NATS link is not usable — exactly when `ready` is false.
 */
export function ingestService({ config, log, metrics, endpoints, fetcher }: IngestOptions): Ingest {
  const inFlight = new InFlight();
  let nc: NatsConnection | undefined;
  let statuses: Statuses | undefined;
  let js: Publish | undefined;
  let accepting = true;
  let failover: Failover | undefined;
  /** `work`, its JetStream answer (or silence) told to the failover once connected. */
  const watched = <T>(what: string, work: () => Promise<T>): Promise<T> =>
    failover ? failover.watch(what, work) : work();
  // After a reconnect the streams are checked before anything is published; a server that does
  // not answer that (a node cut off from its cluster) counts towards moving off it too.
  const link = new NatsLink({
    provision: () =>
      watched('checking the streams after a reconnect', () => provisionTopology(nc!)),
    log,
  });
  let pubsub: PubSub | undefined;
  let pull: PullHandle | undefined;

  /** Why nothing can be stored now (draining, NATS not usable), or undefined. */
  const refusal = (): NotConnectedError | undefined => {
    if (!accepting) return new NotConnectedError('draining');
    if (js === undefined) return new NotConnectedError('not connected to NATS yet');
    if (!link.usable) return new NotConnectedError(link.why);
    return undefined;
  };
  const publish: Publish = (subject, data, options) => {
    const refused = refusal();
    return refused ? Promise.reject(refused) : js!(subject, data, options);
  };
  /** The connected server's max_payload (data and headers of one message), once known. */
  const maxPayload = (): number | undefined => nc?.info?.max_payload;
  const client = (): PubSub =>
    (pubsub ??= createPubSub({
      project: config.PUBSUB_PROJECT ?? '',
      emulatorHost: config.PUBSUB_EMULATOR_HOST,
    }));
  const ensure = (): Promise<void> =>
    ensureSubscription(client(), config.PUBSUB_TOPIC, config.PUBSUB_SUBSCRIPTION);
  // HTTP deliveries are remembered for a day (replays are repeats); pulled ones need not be.
  const anonymous = config.INSECURE_ALLOW_ANONYMOUS_PUSH && !config.PUBSUB_PULL;
  const http = endpoints !== undefined || anonymous;
  let remembered: RepeatMemory | undefined;
  // Refused at once, as a publish is, while nothing could be stored anyway. The bucket, when read,
  // is read before anything is published, so its reads count towards moving off a stranded server
  // too.
  const repeats: RepeatMemory = {
    seen: (key) => {
      const refused = refusal() ?? (remembered ? undefined : new NotConnectedError('no bucket'));
      if (refused) return Promise.reject(refused);
      return watched('reading the repeats bucket', () => remembered!.seen(key));
    },
    remember: (key, eventId) => {
      const refused = refusal() ?? (remembered ? undefined : new NotConnectedError('no bucket'));
      if (refused) return Promise.reject(refused);
      return watched('writing the repeats bucket', () => remembered!.remember(key, eventId));
    },
  };
  const more = async (connection: NatsConnection): Promise<void> => {
    if (http) {
      const kv = await bindBucket(jetstream(connection), BUCKETS.ingestRepeats);
      remembered = repeatMemory(kvCasStore(kv, (v) => v as Remembered));
    }
    if (config.PUBSUB_CREATE_SUBSCRIPTION) await ensure();
  };

  const effects: ServiceEffects = {
    async connect() {
      ({ nc, statuses } = await connectJetStream(config, more));
      // Innermost, so the size check sees the headers tracing adds.
      failover = new Failover(nc, {
        onMove: (why) =>
          log.warn('JetStream does not answer through this NATS server; moving to another', {
            why,
          }),
      });
      const limited = limitPayload(failingOver(publisher(jetstream(nc)), failover), maxPayload);
      js = traceIngest(instrumentPublish(limited, metrics));
      link.up();
    },
    run(report) {
      if (statuses)
        void link
          .follow(statuses, report)
          .catch((error: unknown) => log.warn('watching NATS failed', { error }));
      if (!config.PUBSUB_PULL) return () => undefined;
      const subscription = pullSubscription(
        client(),
        config.PUBSUB_SUBSCRIPTION,
        config.PUBSUB_MAX_MESSAGES,
        config.PUBSUB_MAX_BYTES,
      );
      pull = startPull(subscription, {
        publish,
        metrics,
        log,
        report,
        track: inFlight.track,
        probe: async () => void (await subscription.getMetadata()),
        ...(config.PUBSUB_CREATE_SUBSCRIPTION ? { beforeReopen: ensure } : {}),
      });
      log.info('pulling', {
        subscription: subscription.name,
        maxMessages: config.PUBSUB_MAX_MESSAGES,
      });
      return () => undefined;
    },
    async drain() {
      link.stop();
      await pull
        ?.close()
        .catch((error: unknown) => log.warn('closing the pubsub subscriber failed', { error }));
      accepting = false;
      await inFlight.settled();
      if (nc) await closeGracefully(nc);
      await pubsub?.close();
    },
  };
  const track = inFlight.track;
  const bodies = bodyBudget(config);
  const routes: Route[] = [];
  if (endpoints !== undefined)
    routes.push(
      webhookRoute({
        endpoints,
        publish,
        metrics,
        log,
        track,
        maxPayload,
        repeats,
        bodies,
        ...(fetcher ? { fetcher } : {}),
      }),
    );
  metrics.anonymousPush.set(anonymous ? 1 : 0);
  if (anonymous)
    routes.push(
      pushRoute({
        publish,
        maxBodyBytes: config.MAX_BODY_BYTES,
        metrics,
        log,
        track,
        repeats,
        bodies,
      }),
    );
  return { effects, routes, ready: () => link.usable };
}
