// What the failure tests observe on the onpush side: the accounting — `onpush audit` (design.md's
// rule: every event that entered ends exactly once, every restart request it became ends in
// exactly one workload fate, replayed dead letters resolved), run as a user runs it — the raw
// deliveries and outcomes the streams hold, the consumers' state, the services' metrics and
// readiness.
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { auditUrl, type AuditResult } from '@onpush/cli';
import {
  HEADERS,
  STREAMS,
  TOPOLOGY,
  parseOutcome,
  type ConsumerStage,
  type Outcome,
} from '@onpush/contracts';
import {
  connectNats,
  jetstream,
  jetstreamManager,
  whileUnanswered,
  type NatsConnection,
} from '@onpush/nats';
import { eventually } from '@onpush/testing';

/** One raw delivery stored on `onpush.raw.<source>`. */
export interface RawRecord {
  seq: number;
  eventId: string;
}

/** The raw deliveries (stored once each, or not) and every outcome, as the streams hold them. */
export interface Ledger {
  raw: RawRecord[];
  outcomes: Outcome[];
}

/** Every message of `stream`, in order (bounded by the stream's last sequence and by time). */
async function readAll<T>(
  nc: NatsConnection,
  stream: string,
  map: (m: { subject: string; data: Uint8Array; header(name: string): string; seq: number }) => T,
  timeoutMs = 60_000,
): Promise<T[]> {
  const last = (await (await jetstreamManager(nc)).streams.info(stream)).state.last_seq;
  const out: T[] = [];
  if (last === 0) return out;
  const consumer = await jetstream(nc).consumers.get(stream);
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const batch = await consumer.fetch({ max_messages: 1_000, expires: 2_000 });
    let got = 0;
    for await (const m of batch) {
      got += 1;
      const header = (name: string): string => m.headers?.get(name) ?? '';
      out.push(map({ seq: m.seq, subject: m.subject, data: m.data, header }));
      if (m.seq >= last) return out;
    }
    if (got === 0) return out; // the last message was removed: nothing more to read
  }
  throw new Error(`reading ${stream}: not done after ${timeoutMs} ms`);
}

/** The raw deliveries of ONPUSH and the outcomes of ONPUSH_OUTCOMES. */
export async function readLedger(natsUrl: string): Promise<Ledger> {
  const nc = await connectNats({ url: natsUrl, name: 'onpush-failure-ledger' });
  try {
    // read again while JetStream does not answer (a node that just rejoined), as `onpush audit` does
    const main = await whileUnanswered(
      () =>
        readAll(nc, STREAMS.main, (m) =>
          m.subject.startsWith('onpush.raw.')
            ? { seq: m.seq, eventId: m.header(HEADERS.eventId) }
            : null,
        ),
      15_000,
    );
    const outcomes = await whileUnanswered(
      () => readAll(nc, STREAMS.outcomes, (m) => parseOutcome(m.data)),
      15_000,
    );
    return { raw: main.filter((r): r is RawRecord => r !== null), outcomes };
  } finally {
    await nc.close();
  }
}

/** The audit, in process (the function `onpush audit` runs): for polling until it closes. */
export function auditSince(natsUrl: string, since: Date): Promise<AuditResult> {
  return auditUrl(natsUrl, since);
}

const cliMain = fileURLToPath(new URL('../../cli/dist/main.js', import.meta.url));

/** Runs the `onpush` command as a user would: its exit code and output. */
export function runOnpush(
  args: string[],
  env: NodeJS.ProcessEnv,
): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [cliMain, ...args],
      { env: { ...process.env, ...env }, timeout: 120_000, maxBuffer: 256 << 20 },
      (error, stdout, stderr) => {
        const code = error ? (typeof error.code === 'number' ? error.code : -1) : 0;
        resolve({ code, stdout, stderr: stderr || (error?.message ?? '') });
      },
    );
  });
}

/** `onpush audit --since <since> --json`, as a user runs it: its exit code and report. */
export async function onpushAudit(
  natsUrl: string,
  since: Date,
): Promise<{ code: number; report: AuditResult }> {
  const args = ['audit', '--since', since.toISOString(), '--json'];
  const { code, stdout, stderr } = await runOnpush(args, { NATS_URL: natsUrl });
  try {
    return { code, report: JSON.parse(stdout) as AuditResult };
  } catch {
    throw new Error(`onpush audit: exit ${code}: ${stderr || stdout}`);
  }
}

/** Runs the `onpush` command as a user would; resolves with its stdout, rejects on failure. */
export async function onpush(args: string[], env: NodeJS.ProcessEnv): Promise<string> {
  const { code, stdout, stderr } = await runOnpush(args, env);
  if (code !== 0) throw new Error(`onpush ${args.join(' ')}: exit ${code}: ${stderr}`);
  return stdout;
}

/** One sample of a Prometheus metric from a service's /metrics (summed over matching series). */
export async function metric(
  port: number,
  name: string,
  labels: Record<string, string> = {},
): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
  let sum = 0;
  for (const line of text.split('\n')) {
    if (!line.startsWith(name)) continue;
    const match = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})?\s+(\S+)/.exec(line);
    if (!match || match[1] !== name) continue;
    const series = match[2] ?? '';
    if (Object.entries(labels).every(([k, v]) => series.includes(`${k}="${v}"`)))
      sum += Number(match[3]);
  }
  return sum;
}

/** The ready state of each service's /readyz (true: 200). */
export async function readiness(ports: Record<string, number>): Promise<Record<string, boolean>> {
  const out: Record<string, boolean> = {};
  for (const [service, port] of Object.entries(ports)) {
    out[service] = await fetch(`http://127.0.0.1:${port}/readyz`, {
      signal: AbortSignal.timeout(2_000),
    })
      .then((r) => r.ok)
      .catch(() => false);
  }
  return out;
}

/** Messages a stage's durable consumer has delivered and not yet seen acknowledged. */
export async function unacked(natsUrl: string, stage: ConsumerStage): Promise<number> {
  const nc = await connectNats({ url: natsUrl, name: 'onpush-failure-probe' });
  try {
    const spec = TOPOLOGY.consumers[stage];
    const info = await (await jetstreamManager(nc)).consumers.info(spec.stream, spec.durable);
    return info.num_ack_pending;
  } finally {
    await nc.close();
  }
}

/** True when every stage's consumer has nothing pending, nothing unacked, nothing to redeliver. */
export async function consumersIdle(natsUrl: string): Promise<string | true> {
  const nc = await connectNats({ url: natsUrl, name: 'onpush-failure-probe' });
  try {
    const jsm = await jetstreamManager(nc);
    const busy: string[] = [];
    for (const spec of Object.values(TOPOLOGY.consumers)) {
      const info = await jsm.consumers.info(spec.stream, spec.durable);
      if (info.num_pending > 0 || info.num_ack_pending > 0)
        busy.push(`${spec.durable}: ${info.num_pending} pending, ${info.num_ack_pending} unacked`);
    }
    return busy.length === 0 ? true : busy.join('; ');
  } finally {
    await nc.close();
  }
}

/** Waits until every event id in `eventIds` has its raw delivery in JetStream. */
export async function storedAll(
  natsUrl: string,
  eventIds: Iterable<string>,
  timeoutMs = 90_000,
): Promise<void> {
  const want = [...eventIds];
  let missing = want;
  await eventually(
    'every delivery stored',
    async () => {
      const stored = new Set((await readLedger(natsUrl)).raw.map((r) => r.eventId));
      missing = want.filter((id) => !stored.has(id));
      return missing.length === 0;
    },
    { timeoutMs, intervalMs: 1_000 },
  ).catch((error: unknown) => {
    throw new Error(
      `${(error as Error).message}: ${missing.length} never stored: ${missing.slice(0, 20).join(', ')}`,
    );
  });
}

/** What a test sees once the pipeline is quiet: `onpush audit`'s report and the streams. */
export interface Settled {
  audit: AuditResult;
  ledger: Ledger;
}

/**
 * Waits, within `timeoutMs`, until the pipeline is quiet — every consumer idle, and the audit
 * since `since` closes (nothing unaccounted, nothing in flight) — then runs `onpush audit --since
 * <since> --json` as a user would and returns its report (which the test asserts on) with the
 * streams' content. On timeout it fails with what is still busy or unaccounted.
 */
export async function settled(natsUrl: string, since: Date, timeoutMs = 120_000): Promise<Settled> {
  let last = 'nothing read yet';
  try {
    await eventually(
      'the pipeline to settle with every event accounted for',
      async () => {
        const idle = await consumersIdle(natsUrl);
        if (idle !== true) {
          last = idle;
          return false;
        }
        const report = await auditSince(natsUrl, since);
        const open = [...report.unaccounted, ...report.inFlight];
        if (open.length > 0) {
          last = `${open.length} open: ${JSON.stringify(open.slice(0, 10))}`;
          return false;
        }
        return true;
      },
      { timeoutMs, intervalMs: 1_000 },
    );
  } catch (error) {
    throw new Error(`${(error as Error).message}; last: ${last}`);
  }
  const { code, report } = await onpushAudit(natsUrl, since);
  if (code !== 0)
    throw new Error(`onpush audit exited ${code}: ${JSON.stringify(report.unaccounted)}`);
  return { audit: report, ledger: await readLedger(natsUrl) };
}

/** `promise`, or a rejection naming `what` after `timeoutMs`. */
export async function within<T>(promise: Promise<T>, timeoutMs: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new Error(`timed out after ${timeoutMs} ms: ${what}`)),
      timeoutMs,
    );
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Log lines with their repeats folded: lines that differ only in their time and message id count
 * as one, shown once (the first) with how many there were and when the last came — what a long
 * outage said, readable in a failure message.
 */
export function summarized(lines: readonly string[]): string[] {
  const folded = new Map<string, { first: string; n: number; lastAt: string }>();
  for (const line of lines) {
    const at = /"time":"([^"]*)"/.exec(line)?.[1] ?? '';
    const key = line.replace(/"time":"[^"]*",?/, '').replace(/"messageId":"[^"]*",?/, '');
    const seen = folded.get(key);
    if (seen) {
      seen.n += 1;
      seen.lastAt = at;
    } else folded.set(key, { first: line, n: 1, lastAt: at });
  }
  return [...folded.values()].map(({ first, n, lastAt }) =>
    n === 1 ? first : `${n}× (last at ${lastAt}) ${first}`,
  );
}
