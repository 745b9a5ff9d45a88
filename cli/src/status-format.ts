// `onpush status` as tables (pure: tested without servers).
import { FATES } from '@onpush/contracts';
import type { StatusReport } from './status.js';

/** Left-aligned columns, two spaces apart; numbers right-aligned. */
export function table(rows: readonly (readonly string[])[]): string[] {
  const widths: number[] = [];
  for (const row of rows)
    row.forEach((cell, i) => (widths[i] = Math.max(widths[i] ?? 0, cell.length)));
  const numeric = (i: number) => rows.slice(1).every((row) => /^\d+$/.test(row[i] ?? ''));
  return rows.map((row) =>
    row
      .map((cell, i) => (numeric(i) ? cell.padStart(widths[i] ?? 0) : cell.padEnd(widths[i] ?? 0)))
      .join('  ')
      .trimEnd(),
  );
}

function duration(seconds: number): string {
  if (seconds < 120) return `${seconds}s`;
  if (seconds < 7_200) return `${Math.round(seconds / 60)}m`;
  if (seconds < 172_800) return `${Math.round(seconds / 3_600)}h`;
  return `${Math.round(seconds / 86_400)}d`;
}

export function formatStatus(report: StatusReport): string {
  const lines: string[] = [];
  const services = report.services.map((s) => [s.service, s.ready ? 'yes' : 'NO', s.state, s.url]);
  lines.push(...table([['SERVICE', 'READY', 'STATE', 'URL'], ...services]), '');
  if (report.consumers !== undefined) {
    const consumers = report.consumers.map((c) => [
      c.cluster === undefined ? c.consumer : `${c.consumer}@${c.cluster}`,
      c.stream,
      String(c.pending),
      String(c.ackPending),
      String(c.redelivered),
    ]);
    const head = ['CONSUMER', 'STREAM', 'PENDING', 'ACK PENDING', 'REDELIVERED'];
    lines.push(...table([head, ...consumers]), '');
  }
  const rows: string[][] = [];
  if (report.clusters !== undefined)
    rows.push(['FLEET', `the hub of ${report.clusters.join(', ')} (their services run there)`]);
  if (report.dlq !== undefined) {
    const oldest = report.dlq.depth > 0 ? `, oldest ${duration(report.dlq.oldestAgeSeconds)}` : '';
    rows.push(['DLQ', `${report.dlq.depth} dead letters${oldest}`]);
  }
  if (report.index !== undefined)
    rows.push(['INDEX', `${report.index.workloads} workloads, ${report.index.images} images`]);
  if (report.fates !== undefined) {
    const counts = FATES.map((fate) => `${fate} ${report.fates?.counts[fate] ?? 0}`).join(', ');
    rows.push([`FATES (last ${report.fates.windowSeconds}s)`, counts]);
  }
  if (rows.length) lines.push(...table(rows), '');
  for (const problem of report.problems) lines.push(`problem: ${problem}`);
  return lines.join('\n').trimEnd();
}
