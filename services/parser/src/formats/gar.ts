import { splitReference } from '@onpush/contracts';
import { ParseError } from '../errors.js';
import { ignored, pushes } from './batch.js';
import {
  asObject,
  child,
  decodeBase64,
  firstOf,
  need,
  parseJson,
  text,
  type Json,
} from './read.js';
import { pushOf } from './reference.js';
import type { Delivery, Format, FormatResult } from './types.js';

/**
 * Artifact Registry / Container Registry notifications (Pub/Sub topic `gcr`; subjects
 * `onpush.raw.gar` and `onpush.raw.gcr`): `{"action":"INSERT","digest":"HOST/PATH@sha256:…",
 * "tag":"HOST/PATH:TAG"}`. A push is `action == INSERT`; `tag` is absent on a push by digest
 * (multi-arch per-platform manifests). DELETE and any other action are ignored. The body may
 * also be a whole Pub/Sub push envelope (`{"message":{"data":"<base64>",…}}`), which is opened.
 * The registry's time is the Pub/Sub publish time.
 */
export const gar: Format = (delivery) => {
  const body = asObject(parseJson(delivery.data), 'body');
  const envelope = body['action'] === undefined ? child(body, 'message') : undefined;
  if (envelope !== undefined) return fromEnvelope(envelope, delivery);
  return notification(body, delivery.transport['publish-time']);
};

function fromEnvelope(message: Json, delivery: Delivery): FormatResult {
  const data = need(message, 'data', 'message');
  const body = asObject(
    parseJson(decodeBase64(data, 'message.data'), 'message.data'),
    'message.data',
  );
  const publishTime = firstOf(
    text(message, 'publishTime'),
    text(message, 'publish_time'),
    delivery.transport['publish-time'],
  );
  return notification(body, publishTime);
}

function notification(body: Json, pushedAt: string | undefined): FormatResult {
  const action = need(body, 'action', 'body');
  if (action !== 'INSERT') {
    return ignored(action === 'DELETE' ? 'delete' : 'not_a_push', `action ${action.slice(0, 80)}`);
  }
  const tag = text(body, 'tag');
  const digest = text(body, 'digest');
  if (tag === undefined && digest === undefined) {
    throw new ParseError('missing_field', 'an INSERT needs body.tag or body.digest');
  }
  if (digest !== undefined && !digest.includes('@')) {
    throw new ParseError('invalid_reference', 'body.digest must be HOST/PATH@sha256:…');
  }
  const tagged = tag === undefined ? undefined : splitReference(tag);
  const pinned = digest === undefined ? undefined : splitReference(digest);
  const name = tagged?.name ?? pinned!.name;
  return pushes(pushOf({ name, tag: tagged?.tag, digest: pinned?.digest }, 'body', pushedAt));
}
