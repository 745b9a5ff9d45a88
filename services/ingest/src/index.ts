export { ingestSchema, type IngestConfig } from './config.js';
export {
  GAR_SOURCE,
  DeliveryError,
  acceptGarDelivery,
  garHeaders,
  isoTime,
  type GarDelivery,
  type AcceptOptions,
} from './handler.js';
export { ingestMetrics, countStored, type IngestMetrics, type DeliveryResult } from './metrics.js';
export {
  handlePulled,
  pulledDelivery,
  startPull,
  type PulledMessage,
  type PullSubscription,
  type PullHandlerDeps,
  type PullOptions,
  type PullHandle,
} from './pubsub.js';
export {
  CLOSE_TIMEOUT_SECONDS,
  createPubSub,
  ensureSubscription,
  pullSubscription,
  type PubSubSettings,
} from './pubsub-client.js';
export {
  PUSH_PATHS,
  EnvelopeError,
  parseEnvelope,
  pushRoute,
  type EnvelopeErrorType,
  type PushOptions,
} from './push.js';
export {
  InFlight,
  NotConnectedError,
  ingestService,
  type Ingest,
  type IngestOptions,
} from './effects.js';
