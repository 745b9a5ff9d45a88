// The messages the services exchange: JSON with a `v` schema version, validated at every
// boundary. Names are the contract: add fields freely, never repurpose one. Unknown fields are
// accepted and stripped on decode, so a newer producer never breaks an older consumer.
import { z } from 'zod';
import { decodeOrThrow } from './codec.js';
import { DIGEST_PATTERN, TAG_PATTERN, isNormalizedName } from './image-ref.js';
import { FATES, STAGES, isSubjectToken } from './subjects.js';
import type { Fate } from './subjects.js';

export const WORKLOAD_KINDS = [
  'Deployment',
  'StatefulSet',
  'DaemonSet',
  'CronJob',
  'Rollout',
] as const;
export type WorkloadKind = (typeof WORKLOAD_KINDS)[number];

const DNS_LABEL = /^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/;
const DNS_SUBDOMAIN = /^[a-z0-9](?:[a-z0-9.-]{0,251}[a-z0-9])?$/;

const version = z.literal(1);
const text = z.string().min(1);
const isoTime = z.iso.datetime({ offset: true });
const imageName = z.string().refine(isNormalizedName, {
  error: 'must be a normalized image name such as docker.io/library/nginx',
});
const tag = z.string().regex(TAG_PATTERN, { error: 'must be a valid tag' });
const digest = z.string().regex(DIGEST_PATTERN, { error: 'must be sha256:<64 lower-case hex>' });
const reasonCode = z
  .string()
  .regex(/^[a-z][a-z0-9_]{0,63}$/, { error: 'must be a short snake_case code' });

export const ImagePushedSchema = z
  .object({
    v: version,
    id: text,
    source: z.string().refine(isSubjectToken, { error: 'must be a subject token such as gar' }),
    image: imageName,
    registry: text,
    repository: text,
    tag: tag.optional(),
    digest: digest.optional(),
    pushedAt: isoTime.optional(),
    receivedAt: isoTime,
  })
  .refine((m) => m.image === `${m.registry}/${m.repository}`, {
    error: 'must equal registry/repository',
    path: ['image'],
  })
  .refine((m) => m.tag !== undefined || m.digest !== undefined, {
    error: 'a tag or a digest is required',
    path: ['tag'],
  });
export type ImagePushed = z.infer<typeof ImagePushedSchema>;

/** A workload as outcomes name it. */
export const WorkloadRefSchema = z.object({
  kind: z.enum(WORKLOAD_KINDS),
  namespace: z.string().regex(DNS_LABEL, { error: 'must be a Kubernetes namespace (DNS label)' }),
  name: z.string().regex(DNS_SUBDOMAIN, { error: 'must be a Kubernetes object name' }),
});
export type WorkloadRef = z.infer<typeof WorkloadRefSchema>;

/** A workload to restart, with the containers that run the pushed image. */
export const WorkloadSchema = WorkloadRefSchema.extend({
  containers: z.array(z.string().regex(DNS_LABEL, { error: 'must be a container name' })).min(1),
});
export type Workload = z.infer<typeof WorkloadSchema>;

/**
 * The workload as the resolver's watch last saw it: enough for the restarter to decide and send
 * its PATCH without a GET. The PATCH is conditional on `resourceVersion`, so a stale view costs a
 * 409 and a GET, never a wrong restart. Only onpush's own annotations travel.
 */
export const ObservedWorkloadSchema = z.object({
  resourceVersion: text,
  /** onpush's marks (digest, event id, pushed-at, restartedAt) where the kind keeps them. */
  marks: z.record(z.string(), z.string()),
  /** The object's own `onpush.dev/*` annotations (policy, containers, cooldown, ...). */
  settings: z.record(z.string(), z.string()),
  containers: z.array(z.object({ name: text, image: text, init: z.boolean() })),
  /** The object's labels (opt-in and the label selector); absent: unknown, the restarter reads. */
  labels: z.record(z.string(), z.string()).optional(),
});
export type ObservedWorkload = z.infer<typeof ObservedWorkloadSchema>;

/** The console's question to the resolver (WORKLOAD_QUERY): one workload. */
export const WorkloadQuerySchema = WorkloadRefSchema;
export type WorkloadQuery = WorkloadRef;

/**
 * The resolver's answer: the workload as its watch sees it, `null` when it does not watch it (not
 * opted in, not in scope, gone, or the watch not synced), or why the question was refused.
 */
export const WorkloadQueryReplySchema = z.union([
  z.object({ v: version, workload: ObservedWorkloadSchema.nullable() }),
  z.object({ v: version, error: z.string() }),
]);
export type WorkloadQueryReply = z.infer<typeof WorkloadQueryReplySchema>;

/** The waves of one push, as each of its restart requests carries them. */
export const WavesSchema = z.object({
  /** This request's wave; absent: its workload has none (restarted at once, gates nothing). */
  wave: z.int().nonnegative().optional(),
  /** Wave number (decimal) → how many workloads of this push are in it. */
  sizes: z.record(z.string().regex(/^\d+$/), z.int().positive()),
});
export type Waves = z.infer<typeof WavesSchema>;

export const RestartRequestSchema = z.object({
  v: version,
  eventId: text,
  image: imageName,
  tag: tag.optional(),
  digest: digest.optional(),
  pushedAt: isoTime.optional(),
  workload: WorkloadSchema,
  /** Optional: without it (a resolver answering from its snapshot) the restarter reads first. */
  observed: ObservedWorkloadSchema.optional(),
  /**
   * When some workload this push matched has `onpush.dev/wave`: this workload's wave (absent: it
   * has none and is not gated) and how many workloads of the push each wave holds. Wave n's
   * requests wait until every workload of the wave before it finished its rollout healthy and soaked.
   */
  waves: WavesSchema.optional(),
});
export type RestartRequest = z.infer<typeof RestartRequestSchema>;

const WORKLOAD_ONLY: readonly Fate[] = [
  'restarted',
  'unchanged',
  'gone',
  'would-restart',
  'refused',
  'rejected',
  'expired',
  'rollout-completed',
  'rollout-failed',
  'rolled-back',
];
const EVENT_ONLY: readonly Fate[] = ['ignored', 'no-match', 'dispatched'];

/**
 * One terminal fate. Workload fates (`restarted`, `unchanged`, `gone`, `would-restart`, `refused`) carry the
 * workload; event fates (`ignored`, `no-match`, `dispatched`) do not; `dead` and `halted` are
 * workload fates when they name a workload and event fates otherwise (`halted` without one: a
 * fleet's cluster whose wave never got the push). `rollout-completed` / `rollout-failed`
 * name the workload too, but only inform about a `restarted` (see ROLLOUT_FATES); their
 * `durationMs` is the rollout's, from the restart to its end.
 */
export const OutcomeSchema = z
  .object({
    v: version,
    eventId: text,
    fate: z.enum(FATES),
    stage: z.enum(STAGES),
    workload: WorkloadRefSchema.optional(),
    image: imageName.optional(),
    tag: tag.optional(),
    digest: digest.optional(),
    /** A short code (why ignored, why dead, ...). */
    reason: reasonCode.optional(),
    /** Free text for people. */
    detail: z.string().optional(),
    /** With `dispatched`: how many restart requests were published. */
    requests: z.int().nonnegative().optional(),
    durationMs: z.number().nonnegative().optional(),
    /** When the registry says the image was pushed (the resolver's event fates carry it). */
    pushedAt: isoTime.optional(),
    at: isoTime,
  })
  .refine((o) => !WORKLOAD_ONLY.includes(o.fate) || o.workload !== undefined, {
    error: 'a workload fate names its workload',
    path: ['workload'],
  })
  .refine((o) => !EVENT_ONLY.includes(o.fate) || o.workload === undefined, {
    error: 'an event fate names no workload',
    path: ['workload'],
  });
export type Outcome = z.infer<typeof OutcomeSchema>;

/**
 * True when the outcome accounts for one restart request rather than for an event. A rollout
 * outcome names a workload but accounts for nothing (isAccountingFate).
 */
export function isWorkloadOutcome(outcome: Outcome): boolean {
  return outcome.workload !== undefined;
}

export const DeadLetterSchema = z.object({
  v: version,
  /** Stable id, e.g. the failed message's stream and sequence. */
  id: text,
  stage: z.enum(STAGES),
  reason: reasonCode,
  error: z.string(),
  attempts: z.int().min(1),
  /** The subject the message was consumed from; a replay publishes it there again. */
  subject: text,
  headers: z.record(z.string(), z.union([z.string(), z.array(z.string())])),
  /** The original bytes, base64. */
  payload: z.base64(),
  firstFailedAt: isoTime,
  lastFailedAt: isoTime,
  traceId: z
    .string()
    .regex(/^[0-9a-f]{32}$/, { error: 'must be 32 lower-case hex' })
    .optional(),
  replayedAt: isoTime.optional(),
  /** When this dead letter comes from a replay: the id of the dead letter replayed. */
  replayOf: text.optional(),
  /**
   * Present when the letter was cut to fit the broker's max_payload: `payload` then holds only
   * the first `keptBytes` of the original (and `headers` may miss some), so it is not replayable.
   */
  truncated: z
    .object({
      /** The size of the original payload, in bytes. */
      originalBytes: z.int().nonnegative(),
      /** The SHA-256 of the original payload, lower-case hex. */
      sha256: z.string().regex(/^[0-9a-f]{64}$/, { error: 'must be 64 lower-case hex' }),
      /** How many of its first bytes `payload` keeps. */
      keptBytes: z.int().nonnegative(),
      /** How many original headers were left out (0: all kept). */
      droppedHeaders: z.int().nonnegative(),
      /** Why it was cut, for people (the sizes and the limit). */
      reason: z.string(),
    })
    .optional(),
});
export type DeadLetter = z.infer<typeof DeadLetterSchema>;
/** How a dead letter was cut to fit (DeadLetter.truncated). */
export type Truncation = NonNullable<DeadLetter['truncated']>;

export type Message = ImagePushed | RestartRequest | Outcome | DeadLetter;

/** Base64 of the original bytes, for `DeadLetter.payload`. */
export function toPayload(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('base64');
}

/** The original bytes of a dead letter. */
export function payloadBytes(deadLetter: Pick<DeadLetter, 'payload'>): Uint8Array {
  return new Uint8Array(Buffer.from(deadLetter.payload, 'base64'));
}

/** JSON bytes of a message (the decode side validates). */
export function encode(message: Message): Uint8Array {
  return new TextEncoder().encode(JSON.stringify(message));
}

/** Decode helpers: bytes, JSON text or a parsed value in; the message out, or a ContractError thrown. */
export function parseImagePushed(input: unknown): ImagePushed {
  return decodeOrThrow(ImagePushedSchema, input, 'ImagePushed');
}

export function parseRestartRequest(input: unknown): RestartRequest {
  return decodeOrThrow(RestartRequestSchema, input, 'RestartRequest');
}

export function parseOutcome(input: unknown): Outcome {
  return decodeOrThrow(OutcomeSchema, input, 'Outcome');
}

export function parseDeadLetter(input: unknown): DeadLetter {
  return decodeOrThrow(DeadLetterSchema, input, 'DeadLetter');
}
