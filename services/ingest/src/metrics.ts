import type { Published } from '@onpush/nats';
import { Gauge, counter, type Metrics } from '@onpush/telemetry';
import { GAR_SOURCE } from './handler.js';

export type DeliveryResult = 'stored' | 'duplicate' | 'rejected' | 'failed' | 'dead';
export type Via = 'pull' | 'push' | 'webhook';

/** The shared service metrics plus ingest's own, registered in the same registry. */
export function ingestMetrics(metrics: Metrics) {
  return {
    ...metrics,
    deliveries: counter(
      metrics.registry,
      'onpush_ingest_deliveries_total',
      'Deliveries seen by ingest, by transport (pull, push, webhook) and result (stored, duplicate, rejected, failed, dead)',
      ['via', 'result'],
    ),
    pubsubSettled: counter(
      metrics.registry,
      'onpush_ingest_pubsub_settled_total',
      'Pub/Sub messages settled by the streaming-pull subscriber, by action (ack, nack)',
      ['action'],
    ),
    webhookRequests: counter(
      metrics.registry,
      'onpush_webhook_requests_total',
      'Requests received by a configured webhook endpoint, by endpoint and source',
      ['endpoint', 'source'],
    ),
    webhookResponses: counter(
      metrics.registry,
      'onpush_webhook_responses_total',
      'Answers of the webhook endpoints, by endpoint, source and HTTP status',
      ['endpoint', 'source', 'status'],
    ),
    anonymousPush: new Gauge({
      name: 'onpush_ingest_anonymous_push_enabled',
      help: '1 when POST /pubsub/push is served without authentication (INSECURE_ALLOW_ANONYMOUS_PUSH: local development only)',
      registers: [metrics.registry],
    }),
    authFailures: counter(
      metrics.registry,
      'onpush_webhook_auth_failures_total',
      'Webhook requests refused with 401, by endpoint, source and reason',
      ['endpoint', 'source', 'reason'],
    ),
  };
}

export type IngestMetrics = ReturnType<typeof ingestMetrics>;

/**
 * Counts a delivery JetStream answered for. A new event counts in `received` once; a
 * redelivery that JetStream found a duplicate of does not, so events in stays exact.
 */
export function countStored(
  metrics: IngestMetrics,
  via: Via,
  published: Published,
  seconds: number,
  source: string = GAR_SOURCE,
): void {
  metrics.deliveries.inc({ via, result: published.duplicate ? 'duplicate' : 'stored' });
  if (!published.duplicate) metrics.received.inc({ source });
  metrics.handling.observe({ stage: 'ingest' }, seconds);
}
