#!/usr/bin/env node
import { configOrExit } from '@onpush/config';
import { jetstreamManager, type JetStreamManager } from '@onpush/nats';
import { consumerTuning, natsCredentials, runService, stageEffects } from '@onpush/service';
import { createLogger, createMetrics } from '@onpush/telemetry';
import { createAdvisoryHandler, originalReader } from './advisory-handler.js';
import { dlqManagerSchema } from './config.js';
import { bothEffects } from './effects.js';
import { createHandler } from './handler.js';
import { createDlqMetrics, statsUpdater, type StatsUpdater } from './metrics.js';
import { dlqRoutes } from './routes.js';
import { openDlqStore, type DlqStore } from './store.js';

const config = configOrExit(dlqManagerSchema, process.env, 'dlq-manager');
const log = createLogger({ service: 'dlq-manager' }, { level: config.LOG_LEVEL });
const metrics = createMetrics('dlq-manager');
const dlqMetrics = createDlqMetrics(metrics.registry);

// Bound once connected; until then the API answers 503.
let store: DlqStore | undefined;
let stats: StatsUpdater | undefined;
let jsm: JetStreamManager | undefined;
const tuning = consumerTuning(config);

// Max-deliveries advisories (ONPUSH_ADVISORIES) → dead letters of the messages they name.
const advisories = stageEffects({
  stage: 'dlq-manager',
  durable: 'dlq-manager-advisories',
  natsUrl: config.NATS_URL,
  ...natsCredentials(config),
  handle: createAdvisoryHandler({ original: originalReader(() => jsm), log }),
  maxInFlight: config.MAX_IN_FLIGHT,
  retryScheduleMs: config.RETRY_SCHEDULE,
  tuning,
  log,
  metrics,
  onConnected: async ({ nc }) => {
    jsm = await jetstreamManager(nc);
  },
});

await runService({
  name: 'dlq-manager',
  port: config.PORT,
  log,
  metrics,
  routes: dlqRoutes(() => store),
  effects: bothEffects(
    stageEffects({
      stage: 'dlq-manager',
      natsUrl: config.NATS_URL,
      ...natsCredentials(config),
      handle: createHandler({ log, metrics: dlqMetrics, refresh: () => stats?.update() }),
      maxInFlight: config.MAX_IN_FLIGHT,
      retryScheduleMs: config.RETRY_SCHEDULE,
      tuning,
      log,
      metrics,
      onConnected: async ({ nc }) => {
        const opened = await openDlqStore(nc);
        store = opened;
        stats?.stop();
        stats = statsUpdater(() => opened.stats(), dlqMetrics, log, config.DLQ_STATS_INTERVAL);
        stats.update();
      },
      onDrained: () => {
        stats?.stop();
        return Promise.resolve();
      },
    }),
    advisories,
  ),
});
process.exit(0);
