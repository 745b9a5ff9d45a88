#!/usr/bin/env node
import { orExit } from '@onpush/config';
import { runService } from '@onpush/service';
import { createLogger, createMetrics } from '@onpush/telemetry';
import { loadIngestConfig } from './config.js';
import { ingestService } from './effects.js';
import { ingestMetrics } from './metrics.js';

const { config, endpoints } = orExit('ingest', () => loadIngestConfig(process.env));
const log = createLogger({ service: 'ingest' }, { level: config.LOG_LEVEL });
const metrics = ingestMetrics(createMetrics('ingest', config.CLUSTER_NAME));
const { effects, routes, ready } = ingestService({ config, log, metrics, endpoints });
if (endpoints !== undefined)
  log.info('webhook endpoints', {
    endpoints: endpoints.map((e) => ({ name: e.name, source: e.source, auth: e.auth.type })),
  });
if (config.INSECURE_ALLOW_ANONYMOUS_PUSH)
  log.warn(
    'INSECURE_ALLOW_ANONYMOUS_PUSH: POST /pubsub/push stores whatever anyone posts, without authentication (local development only)',
    { bindAddress: config.BIND_ADDRESS, port: config.PORT },
  );
else if (!config.PUBSUB_PULL && endpoints === undefined)
  log.warn(
    'nothing to ingest: PUBSUB_PULL=false and no webhook endpoints (WEBHOOKS_FILE or WEBHOOKS); Pub/Sub push needs a gcr endpoint with oidc',
  );

await runService({
  name: 'ingest',
  port: config.PORT,
  host: config.BIND_ADDRESS,
  ...(config.METRICS_PORT !== undefined ? { metricsPort: config.METRICS_PORT } : {}),
  log,
  metrics,
  effects,
  routes,
  ready,
  httpTimeouts: { requestMs: config.HTTP_REQUEST_TIMEOUT, headersMs: config.HTTP_HEADERS_TIMEOUT },
});
process.exit(0);
