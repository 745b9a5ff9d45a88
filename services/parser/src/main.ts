#!/usr/bin/env node
import { configOrExit } from '@onpush/config';
import { defineStage, runService, stageSettings } from '@onpush/service';
import { createLogger, createMetrics } from '@onpush/telemetry';
import { parserSchema } from './config.js';
import { createHandler } from './handler.js';
import { createParserMetrics } from './metrics.js';

const config = configOrExit(parserSchema, process.env, 'parser');
const log = createLogger({ service: 'parser' }, { level: config.LOG_LEVEL });
const metrics = createMetrics('parser', config.CLUSTER_NAME);

await runService({
  name: 'parser',
  port: config.PORT,
  host: config.BIND_ADDRESS,
  log,
  metrics,
  effects: defineStage({
    stage: 'parser',
    ...stageSettings(config, log, metrics),
    start: () => ({
      handle: createHandler({ log, metrics: createParserMetrics(metrics.registry) }),
    }),
  }),
});
process.exit(0);
