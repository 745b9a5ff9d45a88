#!/usr/bin/env node
import { configOrExit } from '@onpush/config';
import {
  configuredServiceUrls,
  consoleRoutes,
  dlqRoutes,
  gatherStatus,
  onDemandFeed,
  resolverReader,
  startPushFeed,
} from '@onpush/console';
import { openDlqStore } from '@onpush/dlq';
import { BUCKETS, FLEET_SERVICES } from '@onpush/contracts';
import { approvalsIn, jetstreamManager, lazyBucket, listApprovals } from '@onpush/nats';
import { adminOptions, allEffects, defineStage, runService, stageSettings } from '@onpush/service';
import { createLogger, createMetrics } from '@onpush/telemetry';
import { createAdvisoryHandler, originalReader } from './advisory-handler.js';
import { dlqManagerSchema } from './config.js';
import { createHandler } from './handler.js';
import { createDlqMetrics, statsUpdater } from './metrics.js';
import { approvalRoutes } from './approval-routes.js';

/** A console feed nobody looked at for this long stops reading the outcomes. */
const CONSOLE_IDLE_MS = 5 * 60_000;

const config = configOrExit(dlqManagerSchema, process.env, 'dlq-manager');
const log = createLogger({ service: 'dlq-manager' }, { level: config.LOG_LEVEL });
const metrics = createMetrics('dlq-manager', config.CLUSTER_NAME);
const dlqMetrics = createDlqMetrics(metrics.registry);

const common = { stage: 'dlq-manager', ...stageSettings(config, log, metrics) } as const;

// Max-deliveries advisories (ONPUSH_ADVISORIES) → dead letters of the messages they name.
const advisories = defineStage({
  ...common,
  durable: 'dlq-manager-advisories',
  start: async ({ nc }) => {
    const jsm = await jetstreamManager(nc);
    return { handle: createAdvisoryHandler({ original: originalReader(() => jsm), log }) };
  },
});

// Dead letters (ONPUSH_DLQ) → the store the API lists, shows and replays; until the stage is
// connected the API answers 503. Beside it, the console's live pushes (ONPUSH_OUTCOMES).
const deadLetters = defineStage({
  ...common,
  start: async ({ nc, js }) => {
    const store = await openDlqStore(nc);
    // followed only while a console page is open (and five minutes after): see onDemandFeed
    const feed = onDemandFeed(
      () =>
        startPushFeed(js, { history: config.CONSOLE_HISTORY, keep: config.CONSOLE_PUSHES, log }),
      { idleMs: CONSOLE_IDLE_MS, log },
    );
    const approvals = {
      book: approvalsIn(lazyBucket(() => js, BUCKETS.approvals)),
      list: () => listApprovals(js),
    };
    const stats = statsUpdater(() => store.stats(), dlqMetrics, log, config.DLQ_STATS_INTERVAL);
    stats.update();
    const handle = createHandler({ log, metrics: dlqMetrics, refresh: () => stats.update() });
    const close = async (): Promise<void> => {
      stats.stop();
      await feed.stop(); // ends the console's event streams, so the listener can close
    };
    // the console's workload view: the resolver says how its watch sees a workload
    const workload = resolverReader(nc);
    return { handle, close, store, approvals, feed, nc, workload };
  },
});

// The console's health view: itself on loopback (it is the one answering), the others where
// ONPUSH_<SERVICE>_URL says; in a fleet's cluster only resolver, restarter and this one run here.
const self = config.BIND_ADDRESS === '0.0.0.0' ? '127.0.0.1' : config.BIND_ADDRESS;
const health = {
  natsUrl: config.NATS_URL,
  urls: {
    ...configuredServiceUrls(process.env),
    'dlq-manager': `http://${self.includes(':') ? `[${self}]` : self}:${config.PORT}`,
  },
  ...(config.CLUSTER_NAME === undefined ? {} : { services: FLEET_SERVICES.cluster }),
};

// The console (/console): its page without a token, its API behind the admin API's.
const consoleApi = consoleRoutes({
  feed: () => deadLetters.started?.feed,
  store: () => deadLetters.started?.store,
  status: () => {
    const nc = deadLetters.started?.nc;
    return nc && gatherStatus({ ...health, nc });
  },
  traceUrl: config.CONSOLE_TRACE_URL,
  // It has no Kubernetes access: the resolver says how its watch sees the workload.
  workload: async (ref) => {
    const read = deadLetters.started?.workload;
    if (read === undefined) throw new Error('not connected to NATS yet');
    return read(ref);
  },
});

await runService({
  name: 'dlq-manager',
  port: config.PORT,
  host: config.BIND_ADDRESS,
  log,
  metrics,
  // The API reads payloads, replays and purges, approves and rejects restarts: behind a bearer
  // token (ADMIN_TOKEN_FILE). The console's page holds no data: served without it.
  admin: adminOptions(
    config,
    [
      ...dlqRoutes(() => deadLetters.started?.store),
      ...approvalRoutes(() => deadLetters.started?.approvals),
      ...consoleApi.api,
    ],
    consoleApi.shell,
  ),
  effects: allEffects(deadLetters, advisories),
});
process.exit(0);
