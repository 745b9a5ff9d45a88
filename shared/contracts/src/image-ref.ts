import { OnpushError } from './failure.js';
// Image references, normalized as the container ecosystem does it (the rules are spelled out in
// fixtures/registry-events/README.md). The parser normalizes the event's image and the resolver
// the workload's container images with the same functions, so the index never misses on spelling.
//
// Decisions:
// - Docker Hub has several spellings. `index.docker.io` is folded to `docker.io` as the
//   reference library does; so are `registry-1.docker.io` and `registry.hub.docker.com`, which
//   the library keeps apart although they serve the same repositories: a workload written
//   with one and an event naming another must still match.
// - Paths must be lower-case. `parseImageRef` is strict by default (an upper-case path is
//   rejected, as `docker pull` rejects it). `normalizeImageRef` is the lenient form used on
//   registry events and workload images: it trims and lower-cases the path, since senders
//   such as GitHub keep an owner's capitals and the registry serves the lower-case path.
// - Domain detection is the same in both modes: an upper-case first element is a host. Hosts
//   are lower-cased, unless that would make them read as a path (see parseHost), so that a
//   canonical reference always parses back to itself.
// - No tag and no digest means tag `latest`. A digest-only reference has no tag, so it has no
//   match key (see matchKey).
// - "Paths over 255 characters" counts the path as written, without the host and without the
//   `library/` that Docker Hub implies.
// - A bare image id is rejected both as 64 hex characters and as `sha256:<64 hex>`.
// - Digests: `sha256:` + 64 or `sha512:` + 128 lower-case hex characters; anything else is
//   malformed. What an event's malformed digest does is decided in event-ref.ts.

export const DOCKER_HUB = 'docker.io';
export const DEFAULT_TAG = 'latest';
export const MAX_PATH_LENGTH = 255;
export const TAG_PATTERN = /^\w[\w.-]{0,127}$/;
export const DIGEST_PATTERN = /^(?:sha256:[a-f0-9]{64}|sha512:[a-f0-9]{128})$/;

const DOCKER_HUB_ALIASES = new Set([
  'index.docker.io',
  'registry-1.docker.io',
  'registry.hub.docker.com',
]);
const COMPONENT = /^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$/;
const LABEL = '[a-z0-9](?:[a-z0-9-]*[a-z0-9])?';
const HOST = new RegExp(`^(?:\\[[0-9a-f:.]+\\]|${LABEL}(?:\\.${LABEL})*)(?::[0-9]{1,5})?$`);
const IMAGE_ID = /^(?:sha256:)?[a-f0-9]{64}$/;

export const IMAGE_REF_REASONS = [
  'empty',
  'whitespace',
  'scheme',
  'image_id',
  'empty_component',
  'bad_separator',
  'bad_character',
  'uppercase',
  'bad_host',
  'too_long',
  'bad_tag',
  'bad_digest',
] as const;
export type ImageRefReason = (typeof IMAGE_REF_REASONS)[number];

export class ImageRefError extends OnpushError {
  override readonly name = 'ImageRefError';
  constructor(
    readonly reason: ImageRefReason,
    readonly input: string,
    detail: string,
  ) {
    const shown = input.length > 300 ? `${input.slice(0, 300)}…` : input;
    super(`invalid image reference ${JSON.stringify(shown)}: ${detail}`, {
      type: 'invalid_reference',
      retryable: false,
    });
  }
}

export interface ImageRef {
  /** Lower-case host with port, Docker Hub spelled `docker.io`. */
  readonly registry: string;
  /** The path, `library/` included on Docker Hub. */
  readonly repository: string;
  /** `registry/repository`: what `ImagePushed.image` carries. */
  readonly name: string;
  /** Absent only when the reference has a digest and no tag. */
  readonly tag?: string;
  readonly digest?: string;
  /** The canonical string: `name[:tag][@digest]`. */
  readonly reference: string;
}

export interface ParseOptions {
  /** Lower-case the path instead of rejecting upper-case letters. */
  readonly lowercasePath?: boolean;
}

/** The textual pieces of `name[:tag][@digest]`, not validated. */
export interface ReferenceParts {
  readonly name: string;
  readonly tag?: string | undefined;
  readonly digest?: string | undefined;
}

/**
 * Splits a reference textually: the digest after the first `@`, the tag after the first `:` of
 * the last path element (a port belongs to the host). Nothing is validated, so a truncated
 * digest survives. Use it on a full reference such as Artifact Registry's `tag` and `digest`
 * fields: `us-east1-docker.pkg.dev/my-project/my-repo/hello-world@sha256:…` →
 * `{ name: 'us-east1-docker.pkg.dev/my-project/my-repo/hello-world', digest: 'sha256:…' }`.
 */
export function splitReference(input: string): ReferenceParts {
  const at = input.indexOf('@');
  const rest = at >= 0 ? input.slice(0, at) : input;
  const colon = rest.indexOf(':', rest.lastIndexOf('/') + 1);
  const name = colon >= 0 ? rest.slice(0, colon) : rest;
  return {
    name,
    ...(colon >= 0 ? { tag: rest.slice(colon + 1) } : {}),
    ...(at >= 0 ? { digest: input.slice(at + 1) } : {}),
  };
}

/** Parses and normalizes a reference; throws ImageRefError. Strict about case unless told. */
export function parseImageRef(input: string, options: ParseOptions = {}): ImageRef {
  checkWhole(input);
  const parts = splitReference(input);
  const { registry, repository } = parseName(input, parts.name, options);
  if (parts.tag !== undefined && !TAG_PATTERN.test(parts.tag)) {
    throw new ImageRefError('bad_tag', input, 'a tag is [A-Za-z0-9_][A-Za-z0-9_.-]{0,127}');
  }
  if (parts.digest !== undefined && !DIGEST_PATTERN.test(parts.digest)) {
    throw new ImageRefError('bad_digest', input, 'a digest is sha256: and 64 lower-case hex');
  }
  const tag = parts.tag ?? (parts.digest === undefined ? DEFAULT_TAG : undefined);
  return buildRef(registry, repository, tag, parts.digest);
}

/** The lenient form for registry events and workload images: trims, lower-cases the path. */
export function normalizeImageRef(input: string): ImageRef {
  return parseImageRef(input.trim(), { lowercasePath: true });
}

/** True when `name` is already a normalized `registry/repository` (no tag, no digest). */
export function isNormalizedName(name: string): boolean {
  try {
    return parseImageRef(name).name === name;
  } catch {
    return false;
  }
}

/**
 * The resolver's index key, `name:tag`. A digest-only reference has no tag key: undefined.
 * A reference with both keeps its tag key; whether a digest-pinned workload should be
 * restarted is the resolver's decision.
 */
export function matchKey(ref: Pick<ImageRef, 'name' | 'tag'>): string | undefined {
  return ref.tag === undefined ? undefined : `${ref.name}:${ref.tag}`;
}

function checkWhole(input: string): void {
  if (input === '') throw new ImageRefError('empty', input, 'empty reference');
  if (/\s/.test(input)) throw new ImageRefError('whitespace', input, 'contains whitespace');
  if (input.includes('://')) throw new ImageRefError('scheme', input, 'a reference has no scheme');
  if (IMAGE_ID.test(input)) {
    throw new ImageRefError('image_id', input, 'a 64-hex string is an image id, not a name');
  }
}

function parseName(
  input: string,
  name: string,
  options: ParseOptions,
): { registry: string; repository: string } {
  if (name === '') throw new ImageRefError('empty', input, 'no name');
  if (name.startsWith('/') || name.endsWith('/')) {
    throw new ImageRefError('bad_separator', input, 'leading or trailing "/"');
  }
  const elements = name.split('/');
  if (elements.includes(''))
    throw new ImageRefError('empty_component', input, 'empty path component');
  const first = elements[0] ?? '';
  const hasHost = elements.length > 1 && isHostLike(first);
  const registry = hasHost ? parseHost(input, first) : DOCKER_HUB;
  const path = hasHost ? elements.slice(1) : elements;
  if (path.join('/').length > MAX_PATH_LENGTH) {
    throw new ImageRefError('too_long', input, `path longer than ${MAX_PATH_LENGTH} characters`);
  }
  const checked = path.map((component) => parseComponent(input, component, options));
  if (registry === DOCKER_HUB && checked.length === 1) checked.unshift('library');
  return { registry, repository: checked.join('/') };
}

function isHostLike(element: string): boolean {
  return element === 'localhost' || /[.:]/.test(element) || element !== element.toLowerCase();
}

// Hosts are lower-cased, except a bare name that is a host only through its capitals
// (`MyReg/app`): lower-cased it would read as a Docker Hub path, so it is kept as written.
function parseHost(input: string, element: string): string {
  const lowered = element.toLowerCase();
  if (!HOST.test(lowered)) {
    throw new ImageRefError('bad_host', input, `invalid registry host "${element}"`);
  }
  const port = lowered.match(/:([0-9]+)$/)?.[1];
  if (port !== undefined && (Number(port) < 1 || Number(port) > 65535)) {
    throw new ImageRefError('bad_host', input, `invalid port ${port}`);
  }
  const host = isHostLike(lowered) ? lowered : element;
  return DOCKER_HUB_ALIASES.has(host) ? DOCKER_HUB : host;
}

function parseComponent(input: string, component: string, options: ParseOptions): string {
  const lowered = component.toLowerCase();
  const value = options.lowercasePath === true ? lowered : component;
  if (COMPONENT.test(value)) return value;
  if (COMPONENT.test(lowered)) {
    throw new ImageRefError('uppercase', input, `path component "${component}" is not lower-case`);
  }
  if (/^[a-z0-9._-]+$/.test(lowered)) {
    throw new ImageRefError('bad_separator', input, `bad separator in "${component}"`);
  }
  throw new ImageRefError('bad_character', input, `invalid character in "${component}"`);
}

function buildRef(
  registry: string,
  repository: string,
  tag: string | undefined,
  digest: string | undefined,
): ImageRef {
  const name = `${registry}/${repository}`;
  const reference = `${name}${tag === undefined ? '' : `:${tag}`}${digest === undefined ? '' : `@${digest}`}`;
  return {
    registry,
    repository,
    name,
    ...(tag !== undefined ? { tag } : {}),
    ...(digest !== undefined ? { digest } : {}),
    reference,
  };
}
