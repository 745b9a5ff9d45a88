#!/usr/bin/env node
import { configOrExit } from '@onpush/config';
import { consumerTuning, defineStage, natsCredentials, runService } from '@onpush/service';
import { createLogger, createMetrics } from '@onpush/telemetry';
import { parserSchema } from './config.js';
import { createHandler } from './handler.js';
import { createParserMetrics } from './metrics.js';

const config = configOrExit(parserSchema, process.env, 'parser');
const log = createLogger({ service: 'parser' }, { level: config.LOG_LEVEL });
const metrics = createMetrics('parser');

await runService({
  name: 'parser',
  port: config.PORT,
  log,
  metrics,
  effects: defineStage({
    stage: 'parser',
    natsUrl: config.NATS_URL,
    ...natsCredentials(config),
    start: () => ({
      handle: createHandler({ log, metrics: createParserMetrics(metrics.registry) }),
    }),
    maxInFlight: config.MAX_IN_FLIGHT,
    retryScheduleMs: config.RETRY_SCHEDULE,
    tuning: consumerTuning(config),
    log,
    metrics,
  }),
});
process.exit(0);
