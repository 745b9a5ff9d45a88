export {
  ingestSchema,
  loadIngestConfig,
  type IngestConfig,
  type IngestSettings,
} from './config.js';
export {
  GAR_SOURCE,
  DeliveryError,
  acceptGarDelivery,
  garEventId,
  garHeaders,
  isoTime,
  type GarDelivery,
  type AcceptOptions,
} from './handler.js';
export {
  PayloadTooLargeError,
  headerBytes,
  isMaxPayloadError,
  limitPayload,
  sentHeaderBytes,
} from './payload-limit.js';
export {
  KEPT_BYTES,
  ORIGINAL_SIZE_HEADER,
  ingestDeadLetterKey,
  keptBytes,
  oversizedDeadLetter,
  type OversizedOptions,
} from './dead-letter.js';
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
  storeEnvelope,
  tooLargeReply,
  type EnvelopeErrorType,
  type PushOptions,
  type PushReply,
} from './push.js';
export { NatsLink, type NatsLinkOptions, type Statuses } from './nats-link.js';
export {
  InFlight,
  NotConnectedError,
  ingestService,
  type Ingest,
  type IngestOptions,
} from './effects.js';
export {
  SOURCES,
  SOURCE_SPECS,
  SECRET_HEADERS,
  type Source,
  type AuthType,
} from './webhooks/sources.js';
export {
  DEFAULT_RATE_LIMIT,
  MIN_PATH_TOKEN,
  type Endpoint,
  type EndpointAuth,
} from './webhooks/endpoints.js';
export { GOOGLE_JWKS_URL, GOOGLE_ISSUERS, SNS_ORIGIN } from './webhooks/endpoint-schema.js';
export { loadWebhooks, type WebhooksLoaded } from './webhooks/load.js';
export {
  AuthError,
  AuthUnavailableError,
  FetchError,
  type AuthFailure,
} from './webhooks/errors.js';
export { verifyOidc, type OidcPolicy } from './webhooks/oidc.js';
export { JwksKeys } from './webhooks/jwks.js';
export { snsStringToSign, verifySns, SnsCertificates, type SnsMessage } from './webhooks/sns.js';
export { deliveryId, publishWebhook, webhookHeaders } from './webhooks/delivery.js';
export { webhookRoute, type WebhookOptions } from './webhooks/route.js';
