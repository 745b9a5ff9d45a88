// Test support for the format tests: a raw delivery as ingest stores it, run through the real
// handler, and the messages it would publish, decoded by their contracts.
import { readFileSync } from 'node:fs';
import {
  HEADERS,
  PUSHED,
  parseDeadLetter,
  parseImagePushed,
  parseOutcome,
  transportHeader,
  type DeadLetter,
  type ImagePushed,
  type Outcome,
} from '@onpush/contracts';
import type { Incoming, Outgoing } from '@onpush/service';
import { createHandler } from '../handler.js';

export const RECEIVED_AT = '2026-11-26T10:00:01.000Z';
export const D1 = `sha256:${'a1'.repeat(32)}`;
export const D2 = `sha256:${'b2'.repeat(32)}`;

/** A file of the repository's registry-event fixtures. */
export function fixture(name: string): string {
  const url = new URL(`../../../../test/fixtures/registry-events/${name}`, import.meta.url);
  return readFileSync(url, 'utf8');
}

export interface RawOptions {
  /** HTTP request headers, as ingest copies them (`Onpush-Transport-<lower-case name>`). */
  transport?: Record<string, string>;
  registryHost?: string;
  contentType?: string;
  eventId?: string;
}

export function raw(source: string, body: string | Uint8Array, options: RawOptions = {}): Incoming {
  const eventId = options.eventId ?? `${source}:d1`;
  const headers: Record<string, string> = {
    [HEADERS.msgId]: eventId,
    [HEADERS.eventId]: eventId,
    [HEADERS.source]: source,
    [HEADERS.receivedAt]: RECEIVED_AT,
  };
  for (const [name, value] of Object.entries(options.transport ?? {})) {
    headers[transportHeader(name)] = value;
  }
  if (options.registryHost !== undefined) headers[HEADERS.registryHost] = options.registryHost;
  if (options.contentType !== undefined) headers[HEADERS.contentType] = options.contentType;
  return {
    subject: `onpush.raw.${source}`,
    data: typeof body === 'string' ? new TextEncoder().encode(body) : body,
    headers,
    seq: 7,
    deliveryCount: 1,
  };
}

export const handle = createHandler({ now: () => new Date('2026-11-26T10:00:02Z') });

export interface Handled {
  pushed: ImagePushed[];
  ignored: Outcome[];
  dead: DeadLetter[];
  out: Outgoing[];
}

/** Everything the parser publishes for one delivery, decoded. */
export async function run(
  source: string,
  body: string | Uint8Array,
  options?: RawOptions,
): Promise<Handled> {
  const out = await handle(raw(source, body, options));
  const on = (subject: string) => out.filter((o) => o.subject === subject).map((o) => o.data);
  return {
    pushed: on(PUSHED).map((data) => parseImagePushed(data)),
    ignored: on('onpush.outcome.ignored').map((data) => parseOutcome(data)),
    dead: on('onpush.dead.parser').map((data) => parseDeadLetter(data)),
    out,
  };
}

/** The `ImagePushed` messages of a delivery that must only publish pushes. */
export async function pushed(
  source: string,
  body: string,
  options?: RawOptions,
): Promise<ImagePushed[]> {
  const result = await run(source, body, options);
  if (result.ignored.length > 0 || result.dead.length > 0) {
    throw new Error(`expected only pushes, got ${result.out.map((o) => o.subject).join(', ')}`);
  }
  return result.pushed;
}

/** The reason of a delivery that must end `ignored` (and publish nothing else). */
export async function ignoredReason(
  source: string,
  body: string,
  options?: RawOptions,
): Promise<string | undefined> {
  const result = await run(source, body, options);
  if (result.out.length !== 1 || result.ignored.length !== 1) {
    throw new Error(
      `expected one ignored outcome, got ${result.out.map((o) => o.subject).join(', ')}`,
    );
  }
  return result.ignored[0]!.reason;
}

/** The error a delivery fails with (it must fail). */
export async function failure(
  source: string,
  body: string | Uint8Array,
  options?: RawOptions,
): Promise<unknown> {
  try {
    await handle(raw(source, body, options));
  } catch (error) {
    return error;
  }
  throw new Error('expected the delivery to fail');
}

/** The common fields of an `ImagePushed` from these tests. */
export function expected(
  fields: Partial<ImagePushed> & Pick<ImagePushed, 'id' | 'source' | 'image'>,
): ImagePushed {
  const slash = fields.image.indexOf('/');
  return {
    v: 1,
    registry: fields.image.slice(0, slash),
    repository: fields.image.slice(slash + 1),
    receivedAt: RECEIVED_AT,
    ...fields,
  };
}
