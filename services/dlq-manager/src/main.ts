#!/usr/bin/env node
import { configOrExit } from '@onpush/config';
import { openDlqStore } from '@onpush/dlq';
import { BUCKETS } from '@onpush/contracts';
import { approvalsIn, jetstreamManager, lazyBucket, listApprovals } from '@onpush/nats';
import { adminOptions, defineStage, runService, stageSettings } from '@onpush/service';
import { createLogger, createMetrics } from '@onpush/telemetry';
import { createAdvisoryHandler, originalReader } from './advisory-handler.js';
import { dlqManagerSchema } from './config.js';
import { bothEffects } from './effects.js';
import { createHandler } from './handler.js';
import { createDlqMetrics, statsUpdater } from './metrics.js';
import { approvalRoutes } from './approval-routes.js';
import { dlqRoutes } from './routes.js';

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
// connected the API answers 503.
const deadLetters = defineStage({
  ...common,
  start: async ({ nc, js }) => {
    const store = await openDlqStore(nc);
    const approvals = {
      book: approvalsIn(lazyBucket(() => js, BUCKETS.approvals)),
      list: () => listApprovals(js),
    };
    const stats = statsUpdater(() => store.stats(), dlqMetrics, log, config.DLQ_STATS_INTERVAL);
    stats.update();
    const handle = createHandler({ log, metrics: dlqMetrics, refresh: () => stats.update() });
    const close = (): Promise<void> => Promise.resolve(stats.stop());
    return { handle, close, store, approvals };
  },
});

await runService({
  name: 'dlq-manager',
  port: config.PORT,
  host: config.BIND_ADDRESS,
  log,
  metrics,
  // The API reads payloads, replays and purges, approves and rejects restarts: behind a bearer
  // token (ADMIN_TOKEN_FILE).
  admin: adminOptions(config, [
    ...dlqRoutes(() => deadLetters.started?.store),
    ...approvalRoutes(() => deadLetters.started?.approvals),
  ]),
  effects: bothEffects(deadLetters, advisories),
});
process.exit(0);
