// Restarts waiting for approval (`onpush.dev/approval: required`), in the KV bucket
// BUCKETS.approvals: the restarter records one pending when a request first waits; an operator
// (`onpush approve|reject`, the dlq-manager's /approvals API) decides it by compare-and-set, so
// of two people deciding at once one wins and the other is told; the restarter reads it again
// each time the request comes back and restarts, or ends it `rejected` / `expired`.
import { ApprovalSchema, BUCKETS, type Approval } from '@onpush/contracts';
import type { JetStreamClient } from '@nats-io/jetstream';
import { casUpdate, lazyCasStore, type CasStore, type KV } from './kv.js';
import { scanStream } from './scan.js';

/** A decision that cannot be made: no such approval, or it was decided already. */
export class ApprovalError extends Error {
  override readonly name = 'ApprovalError';
  constructor(
    message: string,
    readonly code: 'not_found' | 'decided',
  ) {
    super(message);
  }
}

export type Verdict = 'approved' | 'rejected' | 'expired';

export interface ApprovalBook {
  get(id: string): Promise<Approval | undefined>;
  /** Records `approval` (pending) unless one is recorded under its id; returns the one that holds. */
  request(approval: Approval): Promise<Approval>;
  /** Decides a pending approval; throws ApprovalError when there is none or it is decided. */
  decide(id: string, verdict: Verdict, by: string, at: Date, note?: string): Promise<Approval>;
}

/** Writers that lost the compare-and-set before giving up. */
const MAX_WRITES = 5;

export function approvalBook(store: CasStore<Approval>): ApprovalBook {
  return {
    async get(id) {
      return (await store.read(id)).value;
    },
    request(approval) {
      return casUpdate(
        store,
        approval.id,
        (value) =>
          value !== undefined ? { result: value } : { write: approval, result: approval },
        { what: `approvals: ${approval.id}`, maxWrites: MAX_WRITES },
      );
    },
    async decide(id, verdict, by, at, note) {
      const { value, revision } = await store.read(id);
      if (value === undefined) throw new ApprovalError(`no approval ${id}`, 'not_found');
      if (value.state !== 'pending') {
        throw new ApprovalError(`approval ${id} is ${value.state} already`, 'decided');
      }
      const decided: Approval = {
        ...value,
        state: verdict,
        decidedBy: by,
        decidedAt: at.toISOString(),
        ...(note !== undefined && note !== '' ? { note: note.slice(0, 500) } : {}),
      };
      if ((await store.write(id, decided, revision)) > 0) return decided;
      const now = (await store.read(id)).value;
      throw new ApprovalError(`approval ${id} is ${now?.state ?? 'gone'} already`, 'decided');
    },
  };
}

/** The book over bucket BUCKETS.approvals (`kv`: the bucket, or how to bind it on first use). */
export function approvalsIn(kv: KV | (() => Promise<KV>)): ApprovalBook {
  const bind = typeof kv === 'function' ? kv : () => Promise.resolve(kv);
  return approvalBook(lazyCasStore(bind, (v) => ApprovalSchema.parse(v)));
}

/** Every approval in the bucket (each key's latest value), oldest request first. */
export async function listApprovals(js: JetStreamClient): Promise<Approval[]> {
  const found = new Map<string, Approval>();
  for await (const msg of scanStream(js, `KV_${BUCKETS.approvals}`)) {
    const key = msg.subject.slice(`$KV.${BUCKETS.approvals}.`.length);
    const operation = msg.headers?.get('KV-Operation');
    if (operation === 'DEL' || operation === 'PURGE') {
      found.delete(key);
      continue;
    }
    const parsed = ApprovalSchema.safeParse(msg.json());
    if (parsed.success) found.set(key, parsed.data);
  }
  return [...found.values()].sort((a, b) => a.requestedAt.localeCompare(b.requestedAt));
}
