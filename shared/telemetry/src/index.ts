export { createLogger, type Logger, type Level, type Fields } from './logger.js';
export {
  createMetrics,
  LATENCY_BUCKETS,
  PUSH_TO_RESTART_BUCKETS,
  pushToRestartHistogram,
  consumerLagGauges,
  counter,
  Counter,
  Gauge,
  Histogram,
  type ConsumerLag,
  type Metrics,
  type Registry,
} from './metrics.js';
export { startTracing, exportRequested, type Tracing, type Env } from './tracing.js';
export {
  activeTraceparent,
  annotate,
  captureContext,
  runInContext,
  carriesTrace,
  contextOf,
  errorTypeOf,
  extractContext,
  injectContext,
  inSpan,
  linksTo,
  markError,
  recordSpan,
  tracer,
  type Headers,
  type RecordedSpan,
  type SpanSpec,
} from './spans.js';
export {
  deliveryAttributes,
  natsOperation,
  withProcessSpan,
  withPublishSpan,
  type Delivery,
  type OutgoingMessage,
  type StoredAck,
} from './messaging.js';
export { parsePrometheusText, sampleValue, type Sample } from './prometheus-text.js';
export * from './semconv.js';
export {
  ROOT_CONTEXT,
  SpanKind,
  SpanStatusCode,
  type Attributes,
  type Context,
  type Link,
  type Span,
} from '@opentelemetry/api';
