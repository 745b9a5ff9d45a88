import { ImageRefError, normalizeEventRef, type PartsRef } from '@onpush/contracts';
import { ParseError, isObject, parseJson } from '../errors.js';
import type { Format } from './types.js';

/**
 * Artifact Registry / Container Registry notifications (Pub/Sub topic `gcr`):
 * `{"action":"INSERT","digest":"HOST/PATH@sha256:…","tag":"HOST/PATH:TAG"}`. A push is
 * `action == INSERT`; `tag` is absent on a push by digest (multi-arch per-platform manifests).
 * DELETE and any other action are ignored. The registry's time is the Pub/Sub publish time.
 */
export const gar: Format = ({ data, transport }) => {
  const body = parseJson(data);
  if (!isObject(body)) throw new ParseError('missing_field', 'body must be a JSON object');
  const action = body['action'];
  if (typeof action !== 'string' || action === '') {
    throw new ParseError('missing_field', 'body.action must be a non-empty string');
  }
  if (action !== 'INSERT') {
    return {
      kind: 'ignored',
      reason: action === 'DELETE' ? 'delete' : 'not_a_push',
      detail: `action ${action}`,
    };
  }
  const tag = typeof body['tag'] === 'string' && body['tag'] !== '' ? body['tag'] : undefined;
  const digest =
    typeof body['digest'] === 'string' && body['digest'] !== '' ? body['digest'] : undefined;
  if (!tag && !digest)
    throw new ParseError('missing_field', 'an INSERT needs body.tag or body.digest');
  const parsed = reference(tag, digest);
  return {
    kind: 'pushes',
    pushes: [
      {
        ref: parsed.ref,
        key: '',
        pushedAt: transport['publish-time'],
        droppedDigest: parsed.droppedDigest,
      },
    ],
  };
};

/** `tag` and `digest` are full references to the same image; combine them into one. */
function reference(tag: string | undefined, digest: string | undefined): PartsRef {
  try {
    const digestPart = digest ? digest.slice(digest.indexOf('@') + 1) : undefined;
    if (digest && !digest.includes('@'))
      throw new ParseError('invalid_reference', `digest ${digest} has no @`);
    const base = tag ?? digest!.slice(0, digest!.indexOf('@'));
    return normalizeEventRef(digestPart ? `${base}@${digestPart}` : base);
  } catch (error) {
    if (error instanceof ImageRefError) {
      throw new ParseError('invalid_reference', error.message, { cause: error });
    }
    throw error;
  }
}
