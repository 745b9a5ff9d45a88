// NATS header names onpush sets and reads. Values are strings; who sets what: docs/design.md.
import { SubjectError } from './subjects.js';

/** NATS headers. HTTP/Pub/Sub transport headers are copied as `Onpush-Transport-<name>`. */
export const HEADERS = {
  /** JetStream de-duplication key; always set from a stable key (docs/design.md). */
  msgId: 'Nats-Msg-Id',
  traceparent: 'traceparent',
  tracestate: 'tracestate',
  /** The `source` token of a raw delivery (also the last token of its subject). */
  source: 'Onpush-Source',
  /** When ingest accepted the delivery, ISO 8601. */
  receivedAt: 'Onpush-Received-At',
  /** The sender's content type of a raw body. */
  contentType: 'Onpush-Content-Type',
  /** `ImagePushed.id` on every message derived from an event. */
  eventId: 'Onpush-Event-Id',
  /**
   * On a restart request the restarter put back while a wave gate holds it: how many times it
   * was put back (1, 2, ...); its watch view is then not trusted.
   */
  heldCopy: 'Onpush-Held-Copy',
  /** On a held copy waiting for approval: `approval` (it asks the approvals alone when back). */
  awaiting: 'Onpush-Awaiting',
  /** On a held copy: the stream sequence of the request it copies (its place in the budget's line). */
  ticket: 'Onpush-Ticket',
  /**
   * On a copy of a restart request the restarter follows until its rollout ends
   * (`onpush.dev/rollback: auto`): JSON `{generation, since, images}` — what to put back if it fails.
   */
  rollback: 'Onpush-Rollback',
  /** On a replayed message: the id of the dead letter it came from. */
  replayOf: 'Onpush-Replay-Of',
  /** The named ingest endpoint a webhook came in on (two Harbor instances are two endpoints). */
  endpoint: 'Onpush-Endpoint',
  /** The registry host configured for a source whose events do not name it (JFrog). */
  registryHost: 'Onpush-Registry-Host',
  /**
   * The repositories the endpoint is bound to: comma-separated globs (`*` within a path segment,
   * `**` across segments); the parser dead-letters a push of any other repository.
   */
  repositories: 'Onpush-Repositories',
  /** On a restart request: the workload, so a dead letter and its outcome can name it. */
  workloadKind: 'Onpush-Workload-Kind',
  workloadNamespace: 'Onpush-Workload-Namespace',
  workloadName: 'Onpush-Workload-Name',
  transportPrefix: 'Onpush-Transport-',
  /**
   * On everything a fleet's cluster publishes (CLUSTER_NAME): the cluster's name, so its outcomes
   * and dead letters say where they come from once copied to the hub.
   */
  cluster: 'Onpush-Cluster',
} as const;

const HEADER_NAME = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;

/**
 * The NATS header that carries transport header `name` (HTTP names are case-insensitive, so
 * the name is lower-cased: `X-GitHub-Event` → `Onpush-Transport-x-github-event`).
 */
export function transportHeader(name: string): string {
  if (!HEADER_NAME.test(name)) throw new SubjectError(name, 'invalid_header_name');
  return `${HEADERS.transportPrefix}${name.toLowerCase()}`;
}

/** The transport header name carried by NATS header `header`, or undefined when it is not one. */
export function transportHeaderName(header: string): string | undefined {
  const prefix = HEADERS.transportPrefix.toLowerCase();
  if (!header.toLowerCase().startsWith(prefix) || header.length === prefix.length) return undefined;
  return header.slice(prefix.length).toLowerCase();
}
