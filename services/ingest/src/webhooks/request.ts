import type { IncomingHttpHeaders } from 'node:http';

/** A request header as one string (repeated headers joined by `, `). */
export function headerOf(headers: IncomingHttpHeaders, name: string): string | undefined {
  const value = headers[name];
  return Array.isArray(value) ? value.join(', ') : value;
}

/** The media type of the request, lower-case, without parameters ('' when there is none). */
export function mediaType(headers: IncomingHttpHeaders): string {
  return (headerOf(headers, 'content-type') ?? '').split(';')[0]?.trim().toLowerCase() ?? '';
}

/** `application/json` or any `application/<x>+json` (CloudEvents, Distribution's events type). */
export function isJsonType(type: string): boolean {
  return type === 'application/json' || /^application\/[a-z0-9.+-]+\+json$/.test(type);
}

/** The body parsed as JSON, or undefined when it is not JSON. */
export function jsonOf(body: Buffer): unknown {
  try {
    return JSON.parse(body.toString('utf8')) as unknown;
  } catch {
    return undefined;
  }
}
