// Image references as registry events carry them. Doc examples and some senders put fake or
// truncated digests in events (`sha256:6ec128e26cd5...`, 60 hex characters, `xxxx`), while the
// event still names a tag that can be acted on. Decision: a malformed digest is dropped when a
// tag remains (the caller is told, to log and count it); with no tag the reference is rejected
// as `bad_digest`, since falling back to `latest` would restart the wrong workloads. Nothing
// here crashes on a malformed digest: errors are ImageRefError, never anything else.
import { DIGEST_PATTERN, ImageRefError, normalizeImageRef, splitReference } from './image-ref.js';
import type { ImageRef, ReferenceParts } from './image-ref.js';

export interface DigestCheck {
  /** The digest when present and well-formed. */
  readonly digest: string | undefined;
  /** True when a digest was given but is not well-formed (truncated, `xxxx`, upper-case...). */
  readonly malformed: boolean;
}

/** Checks a digest taken from an event; never throws. Absent or empty is not malformed. */
export function parseDigest(digest: string | undefined): DigestCheck {
  const value = digest?.trim() ?? '';
  if (value === '') return { digest: undefined, malformed: false };
  return DIGEST_PATTERN.test(value)
    ? { digest: value, malformed: false }
    : { digest: undefined, malformed: true };
}

export interface PartsRef {
  readonly ref: ImageRef;
  /** The malformed digest that was dropped, so the caller can log or count it. */
  readonly droppedDigest?: string;
}

/**
 * Builds a reference from an event's pieces, leniently (normalizeImageRef). An empty tag, or a
 * tag equal to the digest (Harbor on a push by digest), counts as no tag. E.g. Artifact
 * Registry: `imageRefFromParts({ ...splitReference(msg.tag), digest: splitReference(msg.digest).digest })`.
 */
export function imageRefFromParts(parts: ReferenceParts): PartsRef {
  const rawTag = parts.tag?.trim() ?? '';
  const tag = rawTag === '' || rawTag === parts.digest?.trim() ? undefined : rawTag;
  const checked = parseDigest(parts.digest);
  if (checked.malformed && tag === undefined) {
    throw new ImageRefError(
      'bad_digest',
      `${parts.name}@${parts.digest ?? ''}`,
      'malformed digest, no tag',
    );
  }
  const tagPart = tag === undefined ? '' : `:${tag}`;
  const digestPart = checked.digest === undefined ? '' : `@${checked.digest}`;
  const ref = normalizeImageRef(`${parts.name.trim()}${tagPart}${digestPart}`);
  return checked.malformed ? { ref, droppedDigest: parts.digest ?? '' } : { ref };
}

/** imageRefFromParts on one full reference string, e.g. `host/path:tag@sha256:6ec1...`. */
export function normalizeEventRef(input: string): PartsRef {
  return imageRefFromParts(splitReference(input.trim()));
}
