// The sandbox API server's audit log: what the API server itself says it was asked to write.
// Tests count restarts from here, not from onpush's own logs or outcomes.
import { existsSync, readFileSync } from 'node:fs';

/**
 * The audit policy of the sandbox API server: every write to a Deployment (patch, update) at
 * level Request, so the log holds the request body (the restart's annotations); nothing else.
 */
export const AUDIT_POLICY = {
  apiVersion: 'audit.k8s.io/v1',
  kind: 'Policy',
  omitStages: ['RequestReceived'],
  rules: [
    {
      level: 'Request',
      verbs: ['patch', 'update'],
      resources: [{ group: 'apps', resources: ['deployments'] }],
    },
    { level: 'None' },
  ],
} as const;

/** One write to a Deployment, as the API server audited it. */
export interface AuditedWrite {
  auditId: string;
  verb: 'patch' | 'update';
  namespace: string;
  name: string;
  /** The HTTP status the API server answered (200: applied; 409: stale resourceVersion; ...). */
  code: number;
  user: string;
  /** When the API server received the request, ISO 8601. */
  at: string;
  /** `spec.template.metadata.annotations` of the request body, when it sets any. */
  templateAnnotations: Record<string, string>;
}

interface AuditEvent {
  auditID?: string;
  stage?: string;
  verb?: string;
  user?: { username?: string };
  objectRef?: { resource?: string; subresource?: string; namespace?: string; name?: string };
  responseStatus?: { code?: number };
  requestObject?: { spec?: { template?: { metadata?: { annotations?: unknown } } } };
  requestReceivedTimestamp?: string;
}

function annotationsOf(event: AuditEvent): Record<string, string> {
  const value = event.requestObject?.spec?.template?.metadata?.annotations;
  if (typeof value !== 'object' || value === null) return {};
  return Object.fromEntries(
    Object.entries(value).filter((e): e is [string, string] => typeof e[1] === 'string'),
  );
}

function toWrite(event: AuditEvent): AuditedWrite | undefined {
  const ref = event.objectRef;
  if (event.stage !== 'ResponseComplete' || ref?.resource !== 'deployments' || ref.subresource)
    return undefined;
  if (event.verb !== 'patch' && event.verb !== 'update') return undefined;
  return {
    auditId: event.auditID ?? '',
    verb: event.verb,
    namespace: ref.namespace ?? '',
    name: ref.name ?? '',
    code: event.responseStatus?.code ?? 0,
    user: event.user?.username ?? '',
    at: event.requestReceivedTimestamp ?? '',
    templateAnnotations: annotationsOf(event),
  };
}

/** Every audited Deployment write in `auditLogPath`, oldest first (empty when there is no log yet). */
export function auditedDeploymentWrites(auditLogPath: string): AuditedWrite[] {
  if (!existsSync(auditLogPath)) return [];
  const writes: AuditedWrite[] = [];
  for (const line of readFileSync(auditLogPath, 'utf8').split('\n')) {
    if (line.trim() === '') continue;
    let event: AuditEvent;
    try {
      event = JSON.parse(line) as AuditEvent;
    } catch {
      continue; // a line still being written
    }
    const write = toWrite(event);
    if (write) writes.push(write);
  }
  return writes;
}

/**
 * PATCH requests per Deployment (`<namespace>/<name>`) in the audit log; by default only the
 * applied ones (code 200). `since` (ISO 8601) skips earlier requests.
 */
export function countPatches(
  auditLogPath: string,
  options: { appliedOnly?: boolean; since?: string } = {},
): Map<string, number> {
  const counts = new Map<string, number>();
  for (const write of auditedDeploymentWrites(auditLogPath)) {
    if (write.verb !== 'patch') continue;
    if ((options.appliedOnly ?? true) && write.code !== 200) continue;
    if (options.since !== undefined && write.at < options.since) continue;
    const key = `${write.namespace}/${write.name}`;
    counts.set(key, (counts.get(key) ?? 0) + 1);
  }
  return counts;
}
