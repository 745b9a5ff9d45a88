// A restart that waits for someone's approval (`onpush.dev/approval: required`): kept in the KV
// bucket BUCKETS.approvals under its id, written by the restarter when the request first waits,
// decided by `onpush approve|reject` or the dlq-manager's /approvals API (compare-and-set), read
// again by the restarter each time the request comes back.
import { createHash } from 'node:crypto';
import { z } from 'zod';
import { WORKLOAD_KINDS } from './messages.js';

export const APPROVAL_STATES = ['pending', 'approved', 'rejected', 'expired'] as const;
export type ApprovalState = (typeof APPROVAL_STATES)[number];

export const ApprovalSchema = z.object({
  /** 16 hex characters, from the push and the workload (approvalId). */
  id: z.string().regex(/^[0-9a-f]{16}$/),
  eventId: z.string(),
  workload: z.object({
    kind: z.enum(WORKLOAD_KINDS),
    namespace: z.string(),
    name: z.string(),
  }),
  image: z.string(),
  tag: z.string().optional(),
  digest: z.string().optional(),
  /** The workload's wave in its push, when it has one. */
  wave: z.int().nonnegative().optional(),
  state: z.enum(APPROVAL_STATES),
  /** When the request first waited. */
  requestedAt: z.string(),
  /** After it, a pending request ends `expired`. */
  deadline: z.string(),
  /** Who approved or rejected (`cli:<user>`, `api`), and when. */
  decidedBy: z.string().optional(),
  decidedAt: z.string().optional(),
  /** Why (optional, from whoever decided). */
  note: z.string().max(500).optional(),
});
export type Approval = z.infer<typeof ApprovalSchema>;

/** The approval id of one push for one workload: 16 hex characters of a SHA-256. */
export function approvalId(
  eventId: string,
  workload: { kind: string; namespace: string; name: string },
): string {
  const text = `${eventId}:${workload.kind}/${workload.namespace}/${workload.name}`;
  return createHash('sha256').update(text).digest('hex').slice(0, 16);
}
