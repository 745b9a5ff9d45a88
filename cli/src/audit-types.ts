// What `onpush audit` reads and reports: the records taken from the streams, and the findings.
import type { Outcome } from '@onpush/contracts';

/** A message of the work stream (`ONPUSH`): its sequence, its event, whether it is a replay. */
export interface WorkRecord {
  readonly seq: number;
  readonly eventId: string;
  /** Set on a replay (`Onpush-Replay-Of`): not a new event. */
  readonly replayOf?: string | undefined;
}

/** A message of `onpush.raw.>`: one delivery that entered, or a replay of one. */
export type RawRecord = WorkRecord;

/** A message of `onpush.pushed`: one push (`<eventId>` or `<eventId>#<key>` for a batch). */
export type PushedRecord = WorkRecord;

/** A message of `onpush.restart.>`: one restart request, for `workload` (`Kind/namespace/name`). */
export interface RequestRecord extends WorkRecord {
  readonly workload: string;
}

/**
 * An outcome as the audit counts it: which fate of which event, from which stage, with its
 * Nats-Msg-Id (`key`: copies with one key are one outcome).
 */
export interface FateRecord
  extends Readonly<Pick<Outcome, 'eventId' | 'fate' | 'stage' | 'requests' | 'reason'>> {
  readonly key: string;
  /** `Kind/namespace/name` on a workload fate. */
  readonly workload?: string | undefined;
}

/** A DLQ entry: its key (the dead letter's id, `dead:<stage>:<stream>:<seq>`) and replay state. */
export interface DeadLetterRecord {
  readonly key: string;
  readonly id: number;
  readonly replayedAt?: string | undefined;
  /**
   * Set on a dead letter of ingest stored since the audit's time: the event it stands for.
   * Ingest dead-letters a delivery it cannot store at all (larger than JetStream accepts), so
   * no raw delivery exists for that event; the dead letter is how it entered.
   */
  readonly ingestEvent?: string | undefined;
}

/** A stage consumer's progress: every message at or below `ackFloor` was acknowledged. */
export interface ConsumerState {
  readonly ackFloor: number;
  readonly pending: number;
  readonly ackPending: number;
}

export interface AuditInput {
  readonly raw: readonly RawRecord[];
  readonly pushed: readonly PushedRecord[];
  readonly requests: readonly RequestRecord[];
  readonly outcomes: readonly FateRecord[];
  readonly deadLetters: readonly DeadLetterRecord[];
  readonly consumers: Readonly<Partial<Record<'parser' | 'resolver' | 'restarter', ConsumerState>>>;
  /** Max-deliveries advisories not yet turned into dead letters. */
  readonly advisoriesPending: number;
}

export type FindingKind =
  | 'missing_fate'
  | 'duplicate_fate'
  | 'requests_mismatch'
  | 'unexpected_fate'
  | 'in_flight';

export interface Finding {
  readonly kind: FindingKind;
  readonly eventId: string;
  readonly workload?: string;
  readonly detail: string;
  /** The fates that count (resolved dead letters left out), as `fate@stage`. */
  readonly fates: readonly string[];
}

export interface AuditReport {
  /** Events that entered (raw deliveries without Onpush-Replay-Of; ingest dead letters), by id. */
  readonly events: number;
  /** Units that need one event fate: the events, or their pushes when split. */
  readonly pushes: number;
  /** Restart requests (event, workload) found on onpush.restart.>. */
  readonly requests: number;
  readonly accounted: { readonly pushes: number; readonly requests: number };
  /** Dead fates that do not count because their DLQ entry was replayed. */
  readonly resolvedByReplay: number;
  /** The fates that count (event and workload fates), by fate. */
  readonly fates: Readonly<Record<string, number>>;
  readonly unaccounted: readonly Finding[];
  readonly inFlight: readonly Finding[];
}
