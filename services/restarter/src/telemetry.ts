// What the restarter adds to the span of the delivery it handles: the workload, the image, the
// HTTP status of the PATCH and the fate; and the push-to-restart histogram.
import type { Outcome, RestartRequest } from '@onpush/contracts';
import {
  ATTR_CONTAINER_IMAGE_NAME,
  ATTR_CONTAINER_IMAGE_TAGS,
  ATTR_HTTP_RESPONSE_STATUS_CODE,
  ATTR_K8S_NAMESPACE_NAME,
  ATTR_ONPUSH_FATE,
  ATTR_ONPUSH_WORKLOAD_KIND,
  K8S_WORKLOAD_NAME_ATTRIBUTE,
  annotate,
  type Attributes,
  type Histogram,
} from '@onpush/telemetry';

/** `k8s.namespace.name`, `k8s.<kind>.name`, `container.image.name` (and tag) on the span. */
export function annotateRestart(request: RestartRequest): void {
  const { kind, namespace, name } = request.workload;
  const attributes: Attributes = {
    [ATTR_K8S_NAMESPACE_NAME]: namespace,
    [ATTR_ONPUSH_WORKLOAD_KIND]: kind,
    [K8S_WORKLOAD_NAME_ATTRIBUTE[kind] ?? 'onpush.workload.name']: name,
    [ATTR_CONTAINER_IMAGE_NAME]: request.image,
  };
  if (request.tag !== undefined) attributes[ATTR_CONTAINER_IMAGE_TAGS] = [request.tag];
  annotate(attributes);
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
