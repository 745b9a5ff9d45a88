// A dead letter as the DLQ shows it: the stored DeadLetter, its public id (the ONPUSH_DLQ stream
// sequence) and its replay state. Pure functions: no NATS here.
import {
  DeadLetterSchema,
  HEADERS,
  TOPOLOGY,
  decode,
  subjectTail,
  toPayload,
  type DeadLetter,
  type Truncation,
} from '@onpush/contracts';

/** One message of ONPUSH_DLQ, as read by sequence or by a consumer. */
export interface RawEntry {
  readonly seq: number;
  readonly subject: string;
  readonly data: Uint8Array;
  readonly time: Date;
  /** The fleet cluster that stored it (its Onpush-Cluster header), at a fleet's hub. */
  readonly cluster?: string | undefined;
}

/** What the `onpush_dlq_replays` bucket keeps per entry. */
export interface ReplayState {
  readonly replayedAt: string;
  readonly count: number;
}

/** The reason shown for a stored message that is not a valid DeadLetter. */
export const INVALID_REASON = 'invalid_entry';

export interface DlqSummary {
  /** The public id: the entry's ONPUSH_DLQ stream sequence. */
  readonly id: number;
  /** The stage that gave up (from the dead-letter subject when the entry is invalid). */
  readonly stage: string;
  /**
   * At a fleet's hub: the cluster whose stage gave up (a replay goes into that cluster only).
   * Absent for the hub's own stages and in a single-cluster install.
   */
  readonly cluster?: string;
  readonly reason: string;
  readonly error: string;
  readonly attempts: number;
  /** The subject the message was consumed from; a replay publishes it there again. */
  readonly subject: string;
  readonly firstFailedAt: string;
  readonly lastFailedAt: string;
  /** When ONPUSH_DLQ stored the entry. */
  readonly storedAt: string;
  readonly replayedAt?: string;
  readonly replayCount: number;
  readonly traceId?: string;
  /** When this entry comes from a replay: the id of the entry replayed. */
  readonly replayOf?: string;
  /** False when the stored message is not a valid DeadLetter (shown, purgeable, not replayable). */
  readonly valid: boolean;
  /**
   * Present when the letter was cut to fit the broker: the original's size and SHA-256, the bytes
   * kept, the headers left out and why. Such an entry is shown and purgeable, not replayable.
   */
  readonly truncated?: Truncation;
}

export interface DlqEntry extends DlqSummary {
  /** The dead letter's own id, as its stage wrote it. */
  readonly letterId?: string;
  readonly headers: DeadLetter['headers'];
  /** The original bytes, base64 (for an invalid entry: the stored message itself). */
  readonly payload: string;
}

function replayFields(state: ReplayState | undefined): {
  replayCount: number;
  replayedAt?: string;
} {
  return state ? { replayCount: state.count, replayedAt: state.replayedAt } : { replayCount: 0 };
}

function fromLetter(raw: RawEntry, letter: DeadLetter, state: ReplayState | undefined): DlqEntry {
  return {
    id: raw.seq,
    stage: letter.stage,
    ...(raw.cluster ? { cluster: raw.cluster } : {}),
    reason: letter.reason,
    error: letter.error,
    attempts: letter.attempts,
    subject: letter.subject,
    firstFailedAt: letter.firstFailedAt,
    lastFailedAt: letter.lastFailedAt,
    storedAt: raw.time.toISOString(),
    ...(letter.replayedAt !== undefined ? { replayedAt: letter.replayedAt } : {}),
    ...replayFields(state),
    ...(letter.traceId !== undefined ? { traceId: letter.traceId } : {}),
    ...(letter.replayOf !== undefined ? { replayOf: letter.replayOf } : {}),
    valid: true,
    ...(letter.truncated !== undefined ? { truncated: letter.truncated } : {}),
    letterId: letter.id,
    headers: letter.headers,
    payload: letter.payload,
  };
}

function fromInvalid(raw: RawEntry, error: string, state: ReplayState | undefined): DlqEntry {
  const storedAt = raw.time.toISOString();
  return {
    id: raw.seq,
    stage: subjectTail(raw.subject, 'onpush.dead') ?? 'unknown',
    ...(raw.cluster ? { cluster: raw.cluster } : {}),
    reason: INVALID_REASON,
    error,
    attempts: 0,
    subject: raw.subject,
    firstFailedAt: storedAt,
    lastFailedAt: storedAt,
    storedAt,
    ...replayFields(state),
    headers: {},
    payload: toPayload(raw.data),
    valid: false,
  };
}

/** The entry for a stored message; a message that is not a DeadLetter becomes an invalid entry. */
export function decodeEntry(raw: RawEntry, state?: ReplayState): DlqEntry {
  const decoded = decode(DeadLetterSchema, raw.data, 'DeadLetter');
  return decoded.ok
    ? fromLetter(raw, decoded.value, state)
    : fromInvalid(raw, decoded.error.message, state);
}

/** The entry without headers and payload, for lists. */
export function summaryOf(entry: DlqEntry): DlqSummary {
  const summary: Record<string, unknown> = { ...entry };
  for (const key of ['headers', 'payload', 'letterId']) delete summary[key];
  return summary as unknown as DlqSummary;
}

/** The Nats-Msg-Id of the `n`-th replay of entry `seq`: a retried replay stores once. */
export function replayMsgId(seq: number, n: number): string {
  return `replay:${seq}:${n}`;
}

/**
 * The headers a replay carries: the original ones, minus Nats-Msg-Id and every other `Nats-*`
 * header (JetStream's own, such as expectations that would fail now), with `Onpush-Replay-Of`
 * set to the entry's id. Values stay lists so a repeated header repeats again.
 */
export function replayHeaders(
  headers: DeadLetter['headers'],
  seq: number,
): Array<[string, string]> {
  const replayOf = HEADERS.replayOf.toLowerCase();
  const kept: Array<[string, string]> = [];
  for (const [name, value] of Object.entries(headers)) {
    const lower = name.toLowerCase();
    if (lower.startsWith('nats-') || lower === replayOf) continue;
    for (const one of Array.isArray(value) ? value : [value]) kept.push([name, one]);
  }
  kept.push([HEADERS.replayOf, String(seq)]);
  return kept;
}

/** True when NATS subject `subject` matches `pattern` (`*` one token, `>` the rest). */
export function subjectMatches(pattern: string, subject: string): boolean {
  const want = pattern.split('.');
  const got = subject.split('.');
  for (const [i, token] of want.entries()) {
    if (token === '>') return got.length > i;
    if (i >= got.length || (token !== '*' && token !== got[i])) return false;
  }
  return want.length === got.length;
}

/**
 * The subject a replay may publish to: the dead letter's original subject, but only when the
 * work stream (ONPUSH) stores it, i.e. a stage consumes it. Anything else (a dead-letter or
 * outcome subject, a JetStream API subject in a forged entry) is refused: undefined.
 */
export function replayTarget(subject: string): string | undefined {
  if (subject.includes('$') || /\s/.test(subject) || subject.split('.').includes(''))
    return undefined;
  return TOPOLOGY.streams.main.subjects.some((pattern) => subjectMatches(pattern, subject))
    ? subject
    : undefined;
}
