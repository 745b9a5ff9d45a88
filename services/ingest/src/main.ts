#!/usr/bin/env node
import { configOrExit } from '@onpush/config';
import { runService } from '@onpush/service';
import { createLogger, createMetrics } from '@onpush/telemetry';
import { ingestSchema } from './config.js';
import { ingestService } from './effects.js';
import { ingestMetrics } from './metrics.js';

const config = configOrExit(ingestSchema, process.env, 'ingest');
const log = createLogger({ service: 'ingest' }, { level: config.LOG_LEVEL });
const metrics = ingestMetrics(createMetrics('ingest'));
const { effects, routes } = ingestService({ config, log, metrics });

await runService({ name: 'ingest', port: config.PORT, log, metrics, effects, routes });
process.exit(0);
