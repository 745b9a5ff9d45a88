// `onpush pending`, `onpush approve <id>...`, `onpush reject <id>...`: restarts waiting for
// approval (`onpush.dev/approval: required`), in the KV bucket onpush_approvals, decided as the
// NATS identity the CLI connects with (admin). An id may be given by a unique prefix.
import { userInfo } from 'node:os';
import { BUCKETS, type Approval, type ApprovalState } from '@onpush/contracts';
import {
  ApprovalError,
  approvalsIn,
  connectNats,
  jetstream,
  lazyBucket,
  listApprovals,
} from '@onpush/nats';
import type { Output } from './output.js';

export const APPROVE_USAGE = `usage:
  onpush pending [--state pending|approved|rejected|expired|all]   restarts waiting for approval
  onpush approve <id>... [--note TEXT]                              let them restart
  onpush reject <id>... [--note TEXT]                               they end rejected
<id> as pending shows it (a unique prefix will do). NATS_URL selects the server.`;

export interface ApproveOptions {
  natsUrl: string;
  json: boolean;
  state?: string | undefined;
  note?: string | undefined;
  /** Who decides, as recorded (default: cli:<user>). */
  by?: string;
}

const age = (from: string, now: Date): string => {
  const s = Math.max(0, Math.round((now.getTime() - Date.parse(from)) / 1000));
  return s < 120 ? `${s}s` : s < 7200 ? `${Math.round(s / 60)}m` : `${Math.round(s / 3600)}h`;
};

/** The table `onpush pending` prints. */
export function formatApprovals(approvals: readonly Approval[], now: Date): string[] {
  if (approvals.length === 0) return ['nothing waits for approval'];
  const rows = approvals.map((a) => [
    a.id,
    a.state,
    `${a.workload.kind}/${a.workload.namespace}/${a.workload.name}`,
    `${a.image}${a.tag !== undefined ? `:${a.tag}` : ''}`,
    a.wave === undefined ? '-' : String(a.wave),
    age(a.requestedAt, now),
    a.state === 'pending' ? a.deadline : `${a.decidedBy ?? ''} ${a.note ?? ''}`.trim(),
    a.eventId,
  ]);
  const header = ['ID', 'STATE', 'WORKLOAD', 'IMAGE', 'WAVE', 'WAITING', 'DEADLINE / BY', 'EVENT'];
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: string[]) =>
    cells
      .map((c, i) => c.padEnd(widths[i]!))
      .join('  ')
      .trimEnd();
  return [line(header), ...rows.map(line)];
}

/** The one approval `prefix` names among `all`; throws naming the problem. */
export function resolveId(prefix: string, all: readonly Approval[]): Approval {
  const found = all.filter((a) => a.id.startsWith(prefix.toLowerCase()));
  if (found.length === 1) return found[0]!;
  throw new ApprovalError(
    found.length === 0 ? `no approval ${prefix}` : `${prefix} names ${found.length} approvals`,
    'not_found',
  );
}

export async function approveCommand(
  command: 'pending' | 'approve' | 'reject',
  ids: readonly string[],
  options: ApproveOptions,
  out: Output,
): Promise<number> {
  const state = options.state ?? 'pending';
  if (command === 'pending' && ids.length > 0) {
    out.error(`pending takes no ids\n\n${APPROVE_USAGE}`);
    return 2;
  }
  if (command !== 'pending' && ids.length === 0) {
    out.error(`${command}: which? give an id\n\n${APPROVE_USAGE}`);
    return 2;
  }
  const nc = await connectNats({ url: options.natsUrl, name: 'onpush-cli' });
  try {
    const js = jetstream(nc);
    const all = await listApprovals(js);
    const now = new Date();
    if (command === 'pending') {
      const shown = all.filter((a) => state === 'all' || a.state === (state as ApprovalState));
      out.result(shown);
      for (const line of formatApprovals(shown, now)) out.info(line);
      return 0;
    }
    const book = approvalsIn(lazyBucket(() => js, BUCKETS.approvals));
    const verdict = command === 'approve' ? 'approved' : 'rejected';
    const by = options.by ?? `cli:${userInfo().username}`;
    const decided: Approval[] = [];
    let failed = 0;
    for (const id of ids) {
      try {
        const approval = await book.decide(resolveId(id, all).id, verdict, by, now, options.note);
        decided.push(approval);
        const { kind, namespace, name } = approval.workload;
        out.info(
          `${approval.id} ${verdict}: ${kind}/${namespace}/${name} (event ${approval.eventId})`,
        );
      } catch (error) {
        if (!(error instanceof ApprovalError)) throw error;
        out.error(`onpush ${command}: ${error.message}`);
        failed += 1;
      }
    }
    out.result(decided);
    return failed === 0 ? 0 : 1;
  } finally {
    await nc.close();
  }
}
