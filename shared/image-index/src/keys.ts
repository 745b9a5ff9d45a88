// Index keys. A container is found under:
// - `name:tag` when it follows a tag (restart, pin, and the tag policies for a re-push of the tag
//   it runs) — for `pin` even once pinned (`name:tag@digest`): the tag is what it follows;
// - `name@digest` when it runs fixed content (a digest, no pin policy): only a push of exactly
//   that digest and no tag finds it;
// - `name:*` (the repository) when its workload has a tag policy (semver/glob/regex): a push of
//   ANY tag of the repository is a candidate, kept when the policy accepts the pushed tag over the
//   container's current one. `*` is never part of a tag, so the key spaces never collide.
import { matchKey, normalizeImageRef, type ImageRef } from '@onpush/contracts';
import { isTagPolicy, type Policy } from '@onpush/kube';

export interface LookupQuery {
  readonly image: string;
  readonly tag?: string | undefined;
  readonly digest?: string | undefined;
}

function parsed(image: string): ImageRef | undefined {
  try {
    return normalizeImageRef(image);
  } catch {
    return undefined;
  }
}

/** The index key of a container image under the default policy, or undefined when it cannot be parsed. */
export function containerKey(image: string): string | undefined {
  const ref = parsed(image);
  if (ref === undefined) return undefined;
  if (ref.digest !== undefined) return `${ref.name}@${ref.digest}`;
  return matchKey(ref);
}

/** The repository key: every tag of `name`. */
export function repositoryKey(name: string): string {
  return `${name}:*`;
}

/** Every key a container is found under with `policy`, and its tag; undefined when unparsable. */
export function containerKeys(
  image: string,
  policy: Policy,
): { keys: string[]; tag: string | undefined } | undefined {
  const ref = parsed(image);
  if (ref === undefined) return undefined;
  if (policy.kind === 'invalid') return { keys: [], tag: ref.tag };
  const tagKey = matchKey(ref);
  if (isTagPolicy(policy)) {
    return { keys: [...(tagKey ? [tagKey] : []), repositoryKey(ref.name)], tag: ref.tag };
  }
  if (policy.kind === 'pin' && tagKey !== undefined) return { keys: [tagKey], tag: ref.tag };
  const key = ref.digest !== undefined ? `${ref.name}@${ref.digest}` : tagKey;
  return { keys: key === undefined ? [] : [key], tag: ref.tag };
}

/** The index key a push looks up: its tag when it has one, else its digest. */
export function queryKey(query: LookupQuery): string | undefined {
  if (query.tag !== undefined) return matchKey({ name: query.image, tag: query.tag });
  if (query.digest !== undefined) return `${query.image}@${query.digest}`;
  return undefined;
}
