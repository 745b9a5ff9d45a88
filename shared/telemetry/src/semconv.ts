// OpenTelemetry semantic-convention names onpush writes, copied here and pinned (as
// opentelemetry-js-contrib instrumentations do): most are still "development" upstream and may
// be renamed in a minor release of @opentelemetry/semantic-conventions, which must not silently
// rename our spans' attributes. Copied from the semantic conventions v1.39.0.
//
// NATS has no conventions of its own upstream; the `messaging.nats.*` names follow the pattern
// of the systems that have them (`messaging.kafka.offset`, `messaging.rabbitmq.*`) and are ours.

/** The semantic-conventions release these names were copied from. */
export const SEMCONV_VERSION = '1.39.0';

// Stable.
export const ATTR_ERROR_TYPE = 'error.type';
export const ATTR_HTTP_RESPONSE_STATUS_CODE = 'http.response.status_code';
export const ATTR_SERVICE_NAME = 'service.name';
export const ERROR_TYPE_VALUE_OTHER = '_OTHER';

// Kubernetes resource (development).
export const ATTR_K8S_CLUSTER_NAME = 'k8s.cluster.name';

// Messaging (development).
export const ATTR_MESSAGING_SYSTEM = 'messaging.system';
export const ATTR_MESSAGING_DESTINATION_NAME = 'messaging.destination.name';
export const ATTR_MESSAGING_OPERATION_TYPE = 'messaging.operation.type';
export const ATTR_MESSAGING_OPERATION_NAME = 'messaging.operation.name';
export const ATTR_MESSAGING_CONSUMER_GROUP_NAME = 'messaging.consumer.group.name';
export const ATTR_MESSAGING_MESSAGE_ID = 'messaging.message.id';
export const ATTR_MESSAGING_MESSAGE_BODY_SIZE = 'messaging.message.body.size';
export const ATTR_MESSAGING_GCP_PUBSUB_MESSAGE_DELIVERY_ATTEMPT =
  'messaging.gcp_pubsub.message.delivery_attempt';

export const MESSAGING_SYSTEM_VALUE_NATS = 'nats';
export const MESSAGING_SYSTEM_VALUE_GCP_PUBSUB = 'gcp_pubsub';
export const MESSAGING_OPERATION_TYPE_VALUE_SEND = 'send';
export const MESSAGING_OPERATION_TYPE_VALUE_PROCESS = 'process';

// NATS JetStream (ours, see above).
/** JetStream's delivery count: 1 on the first delivery, 2 on the first redelivery, ... */
export const ATTR_MESSAGING_NATS_DELIVERY_COUNT = 'messaging.nats.message.delivery_count';
/** The message's sequence in its stream (as stored, on both the producer and consumer side). */
export const ATTR_MESSAGING_NATS_STREAM_SEQUENCE = 'messaging.nats.message.stream_sequence';
export const ATTR_MESSAGING_NATS_STREAM_NAME = 'messaging.nats.stream.name';
/** True when JetStream found the publish a duplicate (same Nats-Msg-Id) and stored nothing. */
export const ATTR_MESSAGING_NATS_DUPLICATE = 'messaging.nats.message.duplicate';

// Kubernetes and containers (development).
export const ATTR_K8S_NAMESPACE_NAME = 'k8s.namespace.name';
export const ATTR_K8S_DEPLOYMENT_NAME = 'k8s.deployment.name';
export const ATTR_K8S_STATEFULSET_NAME = 'k8s.statefulset.name';
export const ATTR_K8S_DAEMONSET_NAME = 'k8s.daemonset.name';
export const ATTR_K8S_CRONJOB_NAME = 'k8s.cronjob.name';
export const ATTR_CONTAINER_IMAGE_NAME = 'container.image.name';
export const ATTR_CONTAINER_IMAGE_TAGS = 'container.image.tags';

/** The `k8s.<kind>.name` attribute of each workload kind onpush can restart. */
export const K8S_WORKLOAD_NAME_ATTRIBUTE: Readonly<Record<string, string>> = {
  Deployment: ATTR_K8S_DEPLOYMENT_NAME,
  StatefulSet: ATTR_K8S_STATEFULSET_NAME,
  DaemonSet: ATTR_K8S_DAEMONSET_NAME,
  CronJob: ATTR_K8S_CRONJOB_NAME,
};

// onpush's own.
export const ATTR_ONPUSH_EVENT_ID = 'onpush.event.id';
export const ATTR_ONPUSH_SOURCE = 'onpush.source';
/** How this delivery ended in the stage: acked, retried (NAK with delay) or dead. */
export const ATTR_ONPUSH_RESULT = 'onpush.message.result';
/** The registry's publish time (ISO 8601) of the push that started the trace. */
export const ATTR_ONPUSH_PUBLISHED_AT = 'onpush.registry.published_at';
/** How ingest got the delivery: pull or push (Pub/Sub), or a webhook. */
export const ATTR_ONPUSH_VIA = 'onpush.transport.via';
export const ATTR_ONPUSH_MATCHED_WORKLOADS = 'onpush.resolver.matched_workloads';
export const ATTR_ONPUSH_IMAGE = 'onpush.image';
export const ATTR_ONPUSH_WORKLOAD_KIND = 'onpush.workload.kind';
export const ATTR_ONPUSH_FATE = 'onpush.fate';
/** A staged rollout's wave (`onpush.dev/wave`) and what its gate decided: open or halted. */
export const ATTR_ONPUSH_WAVE = 'onpush.wave';
export const ATTR_ONPUSH_WAVE_VERDICT = 'onpush.wave.verdict';
/** Why something ended as it did, in words (a wave's verdict, a rollout's failure). */
export const ATTR_ONPUSH_DETAIL = 'onpush.detail';
export const ATTR_ONPUSH_DLQ_ENTRY = 'onpush.dlq.entry_id';
export const ATTR_ONPUSH_DLQ_STAGE = 'onpush.dlq.stage';
export const ATTR_ONPUSH_DLQ_REASON = 'onpush.dlq.reason';
