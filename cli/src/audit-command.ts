// `onpush audit [--since T] [--json]`: reconciles what entered with the fates and the DLQ and
// lists whatever is unaccounted for. Exit 0 when nothing is, 1 otherwise (2: usage).
import { parseSince } from '@onpush/dlq';
import { connectNats, type NatsConnection } from '@onpush/nats';
import { reconcile, type AuditReport, type Finding } from './audit.js';
import {
  fleetClusters,
  readAuditInput,
  readClusterAuditInput,
  type AuditData,
} from './audit-read.js';
import type { Output } from './output.js';

export const AUDIT_USAGE = `usage:
  onpush audit [--since 1h|2025-05-01T00:00:00Z] [--cluster C] [--json]
Checks that every event that entered since then (default: the whole work stream) ended in exactly
one fate, and every restart request it became too. Exit 0 when nothing is unaccounted for, 1
otherwise; events still in flight are listed apart. NATS_URL selects the server. At a fleet's hub
it audits every cluster (each event must end once in each), or the one --cluster names.`;

export interface AuditOptions {
  natsUrl: string;
  json: boolean;
  since?: string | undefined;
  cluster?: string | undefined;
}

/** The whole audit, as a test or script would run it: read the streams, reconcile. */
export interface AuditResult extends AuditReport {
  readonly since: string;
  readonly consumers: AuditData['consumers'];
  readonly advisoriesPending: number;
  readonly invalidOutcomes: number;
}

/** Audits the onpush streams on `nc` since `since`. */
export async function audit(nc: NatsConnection, since: Date): Promise<AuditResult> {
  const data = await readAuditInput(nc, since);
  return {
    since: since.toISOString(),
    ...reconcile(data),
    consumers: data.consumers,
    advisoriesPending: data.advisoriesPending,
    invalidOutcomes: data.invalidOutcomes,
  };
}

/** One cluster of a fleet, audited at its hub; `error` when the hub could not read it. */
export type ClusterAudit =
  | ({ readonly cluster: string } & AuditResult)
  | { readonly cluster: string; readonly error: string };

/** Audits fleet cluster `cluster` from its hub (readClusterAuditInput). */
export async function auditCluster(
  nc: NatsConnection,
  since: Date,
  cluster: string,
): Promise<ClusterAudit> {
  try {
    const data = await readClusterAuditInput(nc, since, cluster);
    return {
      cluster,
      since: since.toISOString(),
      ...reconcile(data),
      consumers: data.consumers,
      advisoriesPending: data.advisoriesPending,
      invalidOutcomes: data.invalidOutcomes,
    };
  } catch (error) {
    return { cluster, error: `cannot read cluster ${cluster}: ${(error as Error).message}` };
  }
}

/** Connects to `url`, audits, closes. */
export async function auditUrl(url: string, since: Date): Promise<AuditResult> {
  const nc = await connectNats({ url, name: 'onpush-audit' });
  try {
    return await audit(nc, since);
  } finally {
    await nc.close();
  }
}

/** At a fleet's hub: every cluster's audit (or the one named); undefined anywhere else. */
export async function auditFleet(
  url: string,
  since: Date,
  only?: string,
): Promise<ClusterAudit[] | undefined> {
  const nc = await connectNats({ url, name: 'onpush-audit' });
  try {
    const clusters = await fleetClusters(nc);
    if (clusters.length === 0) return undefined;
    const chosen = only === undefined ? clusters : clusters.filter((c) => c === only);
    if (only !== undefined && chosen.length === 0)
      return [{ cluster: only, error: `no cluster ${only} (the hub has ${clusters.join(', ')})` }];
    const audits: ClusterAudit[] = [];
    for (const cluster of chosen) audits.push(await auditCluster(nc, since, cluster));
    return audits;
  } finally {
    await nc.close();
  }
}

function findingLine(f: Finding): string {
  const workload = f.workload === undefined ? '' : ` ${f.workload}`;
  const fates = f.fates.length ? ` [${f.fates.join(', ')}]` : '';
  return `  ${f.kind.padEnd(17)} ${f.eventId}${workload}: ${f.detail}${fates}`;
}

/** The report for people. */
export function formatAudit(r: AuditResult): string {
  const c = r.consumers;
  const pending = (name: 'parser' | 'resolver' | 'restarter') =>
    `${name} ${(c[name]?.pending ?? 0) + (c[name]?.ackPending ?? 0)}`;
  const lines = [
    `audit since ${r.since}: ${r.events} events (${r.pushes} pushes), ${r.requests} restart requests`,
    `accounted for: ${r.accounted.pushes}/${r.pushes} pushes, ${r.accounted.requests}/${r.requests} requests` +
      ` (${r.resolvedByReplay} dead letters resolved by replay)`,
    `fates: ${
      Object.entries(r.fates)
        .sort(([a], [b]) => a.localeCompare(b))
        .map(([fate, n]) => `${fate} ${n}`)
        .join(', ') || 'none'
    }`,
    `in flight: ${r.inFlight.length} (pending: ${pending('parser')}, ${pending('resolver')}, ` +
      `${pending('restarter')}, advisories ${r.advisoriesPending})`,
    ...r.inFlight.slice(0, 50).map(findingLine),
    `unaccounted for: ${r.unaccounted.length}`,
    ...r.unaccounted.map(findingLine),
  ];
  if (r.invalidOutcomes) lines.push(`${r.invalidOutcomes} invalid outcome messages ignored`);
  return lines.join('\n');
}

export async function auditCommand(options: AuditOptions, out: Output): Promise<number> {
  const since =
    options.since === undefined ? new Date(0) : parseSince(options.since.trim(), new Date());
  if (since === undefined) {
    out.error(
      `onpush audit: --since must be an ISO 8601 time or a duration such as 1h\n\n${AUDIT_USAGE}`,
    );
    return 2;
  }
  const fleet = await auditFleet(options.natsUrl, since, options.cluster);
  if (fleet) {
    for (const one of fleet)
      out.info(`cluster ${one.cluster}\n${'error' in one ? one.error : formatAudit(one)}\n`);
    out.result({ clusters: fleet });
    return fleet.every((one) => !('error' in one) && one.unaccounted.length === 0) ? 0 : 1;
  }
  if (options.cluster !== undefined) {
    out.error("onpush audit: --cluster works at a fleet's hub (NATS_URL is not one)");
    return 2;
  }
  const result = await auditUrl(options.natsUrl, since);
  out.info(formatAudit(result));
  out.result(result);
  return result.unaccounted.length === 0 ? 0 : 1;
}
