// Reading untrusted bodies: every helper returns a value or throws a ParseError, never anything
// else, whatever the input (wrong types, deep nesting, invalid UTF-8, huge strings).
import { ParseError } from '../errors.js';

export type Json = Record<string, unknown>;

const utf8 = new TextDecoder('utf-8', { fatal: true });

/** Bytes as UTF-8 text (a BOM is dropped); `invalid_encoding` when they are not UTF-8. */
export function utf8Text(data: Uint8Array, where = 'body'): string {
  try {
    return utf8.decode(data);
  } catch (cause) {
    throw new ParseError('invalid_encoding', `${where} is not valid UTF-8`, { cause });
  }
}

/** JSON text or UTF-8 JSON bytes, parsed; `invalid_encoding` / `invalid_json` otherwise. */
export function parseJson(data: Uint8Array | string, where = 'body'): unknown {
  const text = typeof data === 'string' ? data : utf8Text(data, where);
  try {
    return JSON.parse(text) as unknown;
  } catch (cause) {
    const message = cause instanceof Error ? cause.message : 'unreadable';
    throw new ParseError('invalid_json', `${where} is not JSON: ${message.slice(0, 200)}`, {
      cause,
    });
  }
}

const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

/** Standard base64 (URL-safe alphabet and missing padding tolerated); `invalid_encoding` otherwise. */
export function decodeBase64(text: string, where: string): Uint8Array {
  const compact = text.replace(/\s+/g, '').replace(/-/g, '+').replace(/_/g, '/');
  const padded = compact.padEnd(Math.ceil(compact.length / 4) * 4, '=');
  if (!BASE64.test(padded)) throw new ParseError('invalid_encoding', `${where} is not base64`);
  return new Uint8Array(Buffer.from(padded, 'base64'));
}

export function isObject(value: unknown): value is Json {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** `value` as an object, or a `missing_field` ParseError naming `where`. */
export function asObject(value: unknown, where: string): Json {
  if (!isObject(value)) throw new ParseError('missing_field', `${where} must be a JSON object`);
  return value;
}

/** The object at `body[name]`, or undefined. */
export function child(body: Json | undefined, name: string): Json | undefined {
  const value = body?.[name];
  return isObject(value) ? value : undefined;
}

/** A non-blank string at `body[name]` (trimmed), or undefined for anything else. */
export function text(body: Json | undefined, name: string): string | undefined {
  const value = body?.[name];
  if (typeof value !== 'string') return undefined;
  const trimmed = value.trim();
  return trimmed === '' ? undefined : trimmed;
}

/** A string at `body[name]`, empty allowed (GitHub's `tag.name` is "" on an untagged push). */
export function rawText(body: Json | undefined, name: string): string | undefined {
  const value = body?.[name];
  return typeof value === 'string' ? value.trim() : undefined;
}

/** A non-blank string field, or a `missing_field` ParseError naming it. */
export function need(body: Json | undefined, name: string, where: string): string {
  const value = text(body, name);
  if (value === undefined) {
    throw new ParseError('missing_field', `${where}.${name} must be a non-empty string`);
  }
  return value;
}

/** A short, safe rendering of a value from a body, for messages and outcome details. */
export function show(value: unknown): string {
  if (typeof value === 'string') {
    return JSON.stringify(value.length > 80 ? `${value.slice(0, 80)}…` : value);
  }
  if (typeof value === 'number' || typeof value === 'boolean' || value === null) {
    return String(value);
  }
  if (Array.isArray(value)) return 'an array';
  return typeof value === 'object' ? 'an object' : 'nothing';
}

/** Epoch seconds (Docker Hub, Harbor) or an ISO string as ISO 8601; undefined when unusable. */
export function timeOf(value: unknown): string | undefined {
  if (typeof value === 'number' && Number.isFinite(value) && value > 0 && value < 1e11) {
    return new Date(value * 1000).toISOString();
  }
  return typeof value === 'string' && value.trim() !== '' ? value.trim() : undefined;
}

/** The first defined value. */
export function firstOf<T>(...values: (T | undefined)[]): T | undefined {
  return values.find((value) => value !== undefined);
}

/** `table[key]` for own keys only (a body's `__proto__` or `constructor` finds nothing). */
export function lookup<T>(table: Readonly<Record<string, T>>, key: string): T | undefined {
  return Object.hasOwn(table, key) ? table[key] : undefined;
}

/** `item.<name>` when `item` is an object (a batch entry's id), else undefined. */
export function fieldOf(item: unknown, name: string): unknown {
  return isObject(item) ? item[name] : undefined;
}
