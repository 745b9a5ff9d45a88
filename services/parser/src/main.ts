#!/usr/bin/env node
import { configOrExit } from '@onpush/config';
import { allEffects, defineStage, runService, stageSettings } from '@onpush/service';
import { createLogger, createMetrics } from '@onpush/telemetry';
import { parserSchema } from './config.js';
import { fleetGateStages } from './fleet-gate/stages.js';
import { createHandler } from './handler.js';
import { createParserMetrics } from './metrics.js';

const config = configOrExit(parserSchema, process.env, 'parser');
const log = createLogger({ service: 'parser' }, { level: config.LOG_LEVEL });
const metrics = createMetrics('parser', config.CLUSTER_NAME);
const settings = stageSettings(config, log, metrics);

const parser = defineStage({
  stage: 'parser',
  ...settings,
  start: () => ({
    handle: createHandler({ log, metrics: createParserMetrics(metrics.registry) }),
  }),
});

await runService({
  name: 'parser',
  port: config.PORT,
  host: config.BIND_ADDRESS,
  log,
  metrics,
  effects: allEffects(parser, ...fleetGateStages(config, settings, log)),
});
process.exit(0);
