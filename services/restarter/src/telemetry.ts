// What the restarter adds to the span of the delivery it handles: the workload, the image, the
// HTTP status of the PATCH and the fate; and the push-to-restart histogram.
import type { Outcome, RestartRequest, WorkloadRef } from '@onpush/contracts';
import type { GateDecision } from './waves.js';
import {
  ATTR_ONPUSH_DETAIL,
  ATTR_ONPUSH_EVENT_ID,
  ATTR_ONPUSH_WAVE,
  ATTR_ONPUSH_WAVE_VERDICT,
  ATTR_CONTAINER_IMAGE_NAME,
  ATTR_CONTAINER_IMAGE_TAGS,
  ATTR_HTTP_RESPONSE_STATUS_CODE,
  ATTR_K8S_NAMESPACE_NAME,
  ATTR_ONPUSH_FATE,
  ATTR_ONPUSH_WORKLOAD_KIND,
  K8S_WORKLOAD_NAME_ATTRIBUTE,
  SpanKind,
  annotate,
  contextOf,
  recordSpan,
  type Attributes,
  type Histogram,
} from '@onpush/telemetry';

/** `k8s.namespace.name`, `k8s.<kind>.name`, `container.image.name` (and tag). */
function workloadAttributes(
  { kind, namespace, name }: WorkloadRef,
  image: string | undefined,
  tag: string | undefined,
): Attributes {
  const attributes: Attributes = {
    [ATTR_K8S_NAMESPACE_NAME]: namespace,
    [ATTR_ONPUSH_WORKLOAD_KIND]: kind,
    [K8S_WORKLOAD_NAME_ATTRIBUTE[kind] ?? 'onpush.workload.name']: name,
  };
  if (image !== undefined) attributes[ATTR_CONTAINER_IMAGE_NAME] = image;
  if (tag !== undefined) attributes[ATTR_CONTAINER_IMAGE_TAGS] = [tag];
  return attributes;
}

/** The workload and the image on the span of the delivery. */
export function annotateRestart(request: RestartRequest): void {
  annotate(workloadAttributes(request.workload, request.image, request.tag));
}

/**
 * A rollout onpush started, from the PATCH's answer to ready (or failed), as span `rollout` in the
 * push's trace: a child of the restart that started it (`traceparent`, taken when it was made).
 */
export function recordRollout(outcome: Outcome, traceparent: string | undefined): void {
  if (outcome.workload === undefined || traceparent === undefined) return;
  const end = Date.parse(outcome.at);
  const failed = outcome.fate !== 'rollout-completed';
  recordSpan({
    name: 'rollout',
    kind: SpanKind.INTERNAL,
    parent: contextOf(traceparent),
    startTime: new Date(end - (outcome.durationMs ?? 0)),
    endTime: new Date(end),
    attributes: {
      ...workloadAttributes(outcome.workload, outcome.image, outcome.tag),
      [ATTR_ONPUSH_EVENT_ID]: outcome.eventId,
      [ATTR_ONPUSH_FATE]: outcome.fate,
      ...(outcome.detail !== undefined ? { [ATTR_ONPUSH_DETAIL]: outcome.detail } : {}),
    },
    ...(failed
      ? {
          failed: { type: outcome.reason ?? outcome.fate, message: outcome.detail ?? outcome.fate },
        }
      : {}),
  });
}

/**
 * A wave's gate as span `wave gate` in the push's trace, from the first request that waited on it
 * to the verdict (an error when it halted the later waves), recorded by the replica that decided.
 */
export function recordWaveGate(decision: GateDecision): void {
  recordSpan({
    name: 'wave gate',
    kind: SpanKind.INTERNAL,
    startTime: decision.since,
    endTime: decision.at,
    attributes: {
      [ATTR_ONPUSH_EVENT_ID]: decision.eventId,
      [ATTR_ONPUSH_WAVE]: decision.wave,
      [ATTR_ONPUSH_WAVE_VERDICT]: decision.state,
      [ATTR_ONPUSH_DETAIL]: decision.detail,
    },
    ...(decision.state === 'halted'
      ? { failed: { type: decision.reason ?? 'halted', message: decision.detail } }
      : {}),
  });
}

/** The HTTP status of a PATCH (the last one, after conflicts) on the span. */
export function annotatePatchStatus(status: number | undefined): void {
  if (status !== undefined) annotate({ [ATTR_HTTP_RESPONSE_STATUS_CODE]: status });
}

/** The fate on the span; a restart's push-to-restart time in the histogram. */
export function recordOutcome(
  outcome: Outcome,
  pushToRestart: Pick<Histogram, 'observe'> | undefined,
): void {
  annotate({ [ATTR_ONPUSH_FATE]: outcome.fate });
  if (outcome.fate === 'restarted' && outcome.durationMs !== undefined)
    pushToRestart?.observe(outcome.durationMs / 1000);
}
