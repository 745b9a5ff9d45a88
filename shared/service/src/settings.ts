import type { Logger, Metrics } from '@onpush/telemetry';
import { natsCredentials, type BaseServiceConfig } from './config.js';
import { consumerTuning, type ConsumerTuning } from './consumer.js';
import type { StageOptions } from './stage.js';

/** The options of `defineStage` that every consuming service sets the same way. */
export type StageSettings = Pick<
  StageOptions,
  | 'natsUrl'
  | 'natsCredentialsDir'
  | 'natsUser'
  | 'natsPassword'
  | 'cluster'
  | 'maxInFlight'
  | 'retryScheduleMs'
  | 'log'
  | 'metrics'
> & { readonly tuning: ConsumerTuning };

/**
 * A stage's settings from the base configuration (NATS_URL and credentials, MAX_IN_FLIGHT,
 * RETRY_SCHEDULE, the CONSUMER_* tuning) and the service's log and metrics; a service spreads
 * them into `defineStage` beside its stage name and `start`.
 */
export function stageSettings(
  config: BaseServiceConfig,
  log: Logger,
  metrics: Metrics,
): StageSettings {
  return {
    natsUrl: config.NATS_URL,
    ...natsCredentials(config),
    ...(config.CLUSTER_NAME === undefined ? {} : { cluster: config.CLUSTER_NAME }),
    maxInFlight: config.MAX_IN_FLIGHT,
    retryScheduleMs: config.RETRY_SCHEDULE,
    tuning: consumerTuning(config),
    log,
    metrics,
  };
}
