import type { PubSub } from '@google-cloud/pubsub';
import { TOPOLOGY } from '@onpush/contracts';
import {
  closeGracefully,
  connectNats,
  jetstream,
  jetstreamManager,
  type NatsConnection,
  provision,
  type Publish,
  publisher,
} from '@onpush/nats';
import {
  instrumentPublish,
  type LifecycleEvent,
  type Route,
  type ServiceEffects,
} from '@onpush/service';
import type { Logger } from '@onpush/telemetry';
import type { IngestConfig } from './config.js';
import type { IngestMetrics } from './metrics.js';
import { createPubSub, ensureSubscription, pullSubscription } from './pubsub-client.js';
import { startPull, type PullHandle } from './pubsub.js';
import { pushRoute } from './push.js';
import { traceIngest } from './telemetry.js';
import type { Endpoint } from './webhooks/endpoints.js';
import type { Fetcher } from './webhooks/fetch.js';
import { webhookRoute } from './webhooks/route.js';

/** Publishing while ingest is not connected (or already draining). Retryable: try again later. */
export class NotConnectedError extends Error {
  override readonly name = 'NotConnectedError';
  readonly type = 'not_connected';
  readonly retryable = true;
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

export interface IngestOptions {
  config: IngestConfig;
  log: Logger;
  metrics: IngestMetrics;
  /**
   * The webhook endpoints (`POST /webhooks/<name>`). Undefined: none configured, and the
   * Pub/Sub push routes `/pubsub/push` and `/webhooks/gcr` are served unauthenticated instead.
   */
  endpoints?: readonly Endpoint[] | undefined;
  /** How webhook authentication fetches keys and certificates (tests). */
  fetcher?: Fetcher;
}

export interface Ingest {
  effects: ServiceEffects;
  routes: Route[];
}

async function watchNats(
  nc: NatsConnection,
  report: (event: LifecycleEvent) => void,
): Promise<void> {
  for await (const status of nc.status()) {
    if (status.type === 'disconnect') report({ type: 'DEPENDENCY_LOST', dependency: 'nats' });
    if (status.type === 'reconnect') report({ type: 'DEPENDENCY_BACK', dependency: 'nats' });
  }
}

/** Connects to NATS and provisions the topology, then runs `more`; closes again if any step fails. */
async function connectJetStream(
  config: IngestConfig,
  more?: () => Promise<void>,
): Promise<NatsConnection> {
  const nc = await connectNats({
    url: config.NATS_URL,
    name: 'onpush-ingest',
    user: config.NATS_USER,
    pass: config.NATS_PASSWORD,
  });
  try {
    // Streams and missing consumers only: each stage owns its consumer's tunables.
    await provision(await jetstreamManager(nc), TOPOLOGY, { consumers: [] });
    await more?.();
    return nc;
  } catch (error) {
    await nc.close();
    throw error;
  }
}

/**
 * Ingest's effects: connect binds NATS (provisioning the topology) and, when asked, creates the
 * Pub/Sub topic and subscription; run pulls; drain stops pulling, waits for what is in flight,
 * then drains NATS. The push route publishes through the same connection.
 */
export function ingestService({ config, log, metrics, endpoints, fetcher }: IngestOptions): Ingest {
  const inFlight = new InFlight();
  let nc: NatsConnection | undefined;
  let js: Publish | undefined;
  let accepting = true;
  let pubsub: PubSub | undefined;
  let pull: PullHandle | undefined;

  const publish: Publish = (subject, data, options) =>
    js !== undefined && accepting
      ? js(subject, data, options)
      : Promise.reject(new NotConnectedError(accepting ? 'not connected to NATS yet' : 'draining'));
  const client = (): PubSub =>
    (pubsub ??= createPubSub({
      project: config.PUBSUB_PROJECT ?? '',
      emulatorHost: config.PUBSUB_EMULATOR_HOST,
    }));
  const ensure = (): Promise<void> =>
    ensureSubscription(client(), config.PUBSUB_TOPIC, config.PUBSUB_SUBSCRIPTION);

  const effects: ServiceEffects = {
    async connect() {
      nc = await connectJetStream(config, config.PUBSUB_CREATE_SUBSCRIPTION ? ensure : undefined);
      js = traceIngest(instrumentPublish(publisher(jetstream(nc))));
    },
    run(report) {
      if (nc)
        void watchNats(nc, report).catch((error: unknown) =>
          log.warn('watching NATS failed', { error }),
        );
      if (!config.PUBSUB_PULL) return () => undefined;
      const subscription = pullSubscription(
        client(),
        config.PUBSUB_SUBSCRIPTION,
        config.PUBSUB_MAX_MESSAGES,
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
  const route =
    endpoints === undefined
      ? pushRoute({ publish, maxBodyBytes: config.MAX_BODY_BYTES, metrics, log, track })
      : webhookRoute({ endpoints, publish, metrics, log, track, ...(fetcher ? { fetcher } : {}) });
  return { effects, routes: [route] };
}
