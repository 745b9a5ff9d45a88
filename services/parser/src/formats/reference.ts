// Image references from the pieces events carry, through the contracts' normalization (lower-case
// path, Docker Hub spellings folded, malformed digest dropped when a tag remains).
import {
  ImageRefError,
  imageRefFromParts,
  parseDigest,
  splitReference,
  type PartsRef,
} from '@onpush/contracts';
import { ParseError } from '../errors.js';
import { show } from './read.js';
import type { Delivery, Push } from './types.js';

export interface Parts {
  /** `host/path`, or a path that the reference grammar puts on Docker Hub. */
  name: string;
  tag?: string | undefined;
  digest?: string | undefined;
}

/** A normalized reference, or an `invalid_reference` ParseError saying where it came from. */
export function imageRef(parts: Parts, where: string): PartsRef {
  if (parts.name.trim() === '') throw new ParseError('missing_field', `${where}: no image name`);
  try {
    return imageRefFromParts(parts);
  } catch (error) {
    if (error instanceof ImageRefError) {
      throw new ParseError('invalid_reference', `${where}: ${error.message}`, { cause: error });
    }
    throw error;
  }
}

/**
 * One push (key '' until a batch assigns one). A push names a tag or a digest: without either,
 * `latest` would be a guess that restarts the wrong workloads, so it is `missing_field`.
 */
export function pushOf(parts: Parts, where: string, pushedAt?: string): Push {
  if ((parts.tag ?? '').trim() === '' && (parts.digest ?? '').trim() === '') {
    throw new ParseError('missing_field', `${where}: the push names neither a tag nor a digest`);
  }
  const { ref, droppedDigest } = imageRef(parts, where);
  return { ref, key: '', pushedAt, droppedDigest };
}

/** A full reference string (`host/path:tag@digest`), split; `docker://` and `oci://` dropped. */
export function partsOf(reference: string): Parts {
  return splitReference(reference.trim().replace(/^(?:docker|oci):\/\//i, ''));
}

const LABEL = '[a-z0-9](?:[a-z0-9-]*[a-z0-9])?';
const HOST = new RegExp(`^(?:\\[[0-9a-f:.]+\\]|${LABEL}(?:\\.${LABEL})*)(?::[0-9]{1,5})?$`);

/**
 * A registry host as references can name it: lower-cased, and with a `.` or a port, or
 * `localhost` — a bare name such as `registry` would read as a Docker Hub path.
 */
export function checkHost(host: string, where: string): string {
  const lowered = host.trim().toLowerCase();
  const usable = HOST.test(lowered) && (/[.:[]/.test(lowered) || lowered === 'localhost');
  if (!usable) {
    throw new ParseError(
      'invalid_reference',
      `${where}: registry host ${show(host)} cannot start an image reference (it needs a ".", a port or to be localhost)`,
    );
  }
  return lowered;
}

/** The endpoint's configured registry prefix: `host[/path]`, scheme and trailing `/` dropped. */
export function configuredPrefix(delivery: Delivery): string | undefined {
  const value = delivery.registryHost
    ?.trim()
    .replace(/^https?:\/\//i, '')
    .replace(/\/+$/, '');
  return value === undefined || value === '' ? undefined : value;
}

/**
 * `host/path` with the host the body names, else the endpoint's configured registry host;
 * `missing_field` naming `hostField` when there is neither.
 */
export function nameWithHost(
  delivery: Delivery,
  bodyHost: string | undefined,
  path: string,
  where: string,
  hostField: string,
): string {
  const prefix = bodyHost ?? configuredPrefix(delivery);
  if (prefix === undefined) {
    throw new ParseError(
      'missing_field',
      `${where}: ${hostField} names no registry host and the endpoint configures none`,
    );
  }
  const slash = prefix.indexOf('/');
  const host = checkHost(slash < 0 ? prefix : prefix.slice(0, slash), where);
  return `${host}${slash < 0 ? '' : prefix.slice(slash)}/${path.trim()}`;
}

/** The first well-formed digest among candidates, else the first given (to be dropped or refused). */
export function bestDigest(...candidates: (string | undefined)[]): string | undefined {
  const given = candidates.filter((c): c is string => c !== undefined && c.trim() !== '');
  return given.find((c) => parseDigest(c).digest !== undefined) ?? given[0];
}
