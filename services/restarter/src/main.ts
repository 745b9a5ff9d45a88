#!/usr/bin/env node
import { EX_CONFIG, configOrExit } from '@onpush/config';
import { kubeClients, loadKubeConfig, type KubeConfig } from '@onpush/kube';
import { runService, stageEffects } from '@onpush/service';
import { createLogger, createMetrics } from '@onpush/telemetry';
import { restarterSchema } from './config.js';
import { createHandler } from './handler.js';
import { kubeEffects } from './kube.js';
import { kubeRequestCounter } from './metrics.js';
import { TokenBucket } from './token-bucket.js';

/** The kubeconfig, or one clear line naming KUBECONFIG and exit 78 when it cannot be read. */
function kubeConfigOrExit(path: string | undefined): KubeConfig {
  try {
    return loadKubeConfig(path);
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    process.stderr.write(
      `restarter: invalid configuration\n  KUBECONFIG: cannot load: ${reason}\n`,
    );
    process.exit(EX_CONFIG);
  }
}

const config = configOrExit(restarterSchema, process.env, 'restarter');
const log = createLogger({ service: 'restarter' }, { level: config.LOG_LEVEL });
const metrics = createMetrics('restarter');
const effects = kubeEffects({
  clients: kubeClients(kubeConfigOrExit(config.KUBECONFIG)),
  bucket: new TokenBucket({ qps: config.KUBE_QPS, burst: config.KUBE_BURST }),
  requests: kubeRequestCounter(metrics.registry),
});

await runService({
  name: 'restarter',
  port: config.PORT,
  log,
  metrics,
  effects: stageEffects({
    stage: 'restarter',
    natsUrl: config.NATS_URL,
    handle: createHandler({ effects }),
    maxInFlight: config.MAX_IN_FLIGHT,
    retryScheduleMs: config.RETRY_SCHEDULE,
    log,
    metrics,
  }),
});
process.exit(0);
