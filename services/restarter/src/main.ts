#!/usr/bin/env node
import { EX_CONFIG, configOrExit } from '@onpush/config';
import { kubeHttp, loadKubeConfig, type KubeConfig } from '@onpush/kube';
import {
  consumerSpecOrExit,
  consumerTuning,
  natsCredentials,
  runService,
  stageEffects,
} from '@onpush/service';
import { createLogger, createMetrics, pushToRestartHistogram } from '@onpush/telemetry';
import { windowMs } from './coalesce.js';
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
const tuning = consumerTuning(config);
const { ackWaitMs } = consumerSpecOrExit('restarter', tuning, 'restarter');
const effects = kubeEffects({
  http: await kubeHttp(kubeConfigOrExit(config.KUBECONFIG)),
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
    ...natsCredentials(config),
    handle: createHandler({
      effects,
      windowMs: windowMs(config.COALESCE_WINDOW, ackWaitMs),
      coalesceMode: config.COALESCE_MODE,
      pushToRestart: pushToRestartHistogram(metrics.registry),
    }),
    maxInFlight: config.MAX_IN_FLIGHT,
    retryScheduleMs: config.RETRY_SCHEDULE,
    tuning,
    log,
    metrics,
  }),
});
process.exit(0);
