// Field helpers for configuration schemas. Each takes the raw environment string and gives the
// typed value, with a message that says what was expected (never the value: loadConfig adds it,
// unless the field is secret). Defaults use zod's `.default(value)` with the typed value.
import { isIP } from 'node:net';
import { z } from 'zod';

type Parsed<T> = { readonly value: T } | { readonly error: string };

/** A string field turned into T by `parse`, which names the problem when it cannot. */
function parsed<T>(parse: (raw: string) => Parsed<T>) {
  return z.string().transform((raw, ctx): T => {
    const result = parse(raw);
    if ('value' in result) return result.value;
    ctx.issues.push({ code: 'custom', message: result.error, input: raw });
    return z.NEVER;
  });
}

// The mark is a no-op check: zod copies a schema's checks into the copies that `.refine()`,
// `.min()` and friends make, so `secret(z.string()).refine(...)` stays secret (registry
// metadata would not follow a refine).
const SECRET_MARK = z.check<unknown>(() => undefined);

/** Marks a field secret: its value never appears in a configuration error. */
export function secret<T extends z.ZodType>(schema: T): T {
  return schema.check(SECRET_MARK);
}

interface FieldDef {
  readonly checks?: readonly unknown[];
  readonly innerType?: z.ZodType;
  readonly in?: z.ZodType;
  readonly out?: z.ZodType;
}

/** True when the field, or a schema it wraps (`.optional()`, `.default()`, a pipe), is secret. */
export function isSecret(schema: z.ZodType): boolean {
  const def = schema._zod.def as FieldDef;
  if (def.checks?.includes(SECRET_MARK) === true) return true;
  const inner = [def.innerType, def.in, def.out].filter((s) => s !== undefined);
  return inner.some(isSecret);
}

/** A URL; with `protocols` (e.g. `['nats', 'tls']`), one of those schemes only. */
export function url(protocols?: readonly string[]) {
  const schemes = protocols?.map((p) => p.replace(/:(\/\/)?$/, '').toLowerCase());
  const expected =
    schemes === undefined ? 'a URL' : `a ${schemes.map((s) => `${s}://`).join(' or ')} URL`;
  return parsed((raw) => {
    const value = URL.canParse(raw) ? new URL(raw) : undefined;
    const scheme = value?.protocol.slice(0, -1);
    const ok = value !== undefined && value.host !== '' && scheme !== undefined;
    return ok && (schemes === undefined || schemes.includes(scheme))
      ? { value: raw }
      : { error: `must be ${expected}` };
  });
}

const HOSTNAME =
  /^(?=.{1,253}$)[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)*$/i;

/** An address to listen on or connect to: an IPv4 or IPv6 address, or a host name. */
export function host() {
  return parsed((raw) =>
    isIP(raw) !== 0 || HOSTNAME.test(raw)
      ? { value: raw }
      : { error: 'must be an IP address (such as 127.0.0.1 or ::1) or a host name' },
  );
}

/** A TCP port, 1-65535 (0 too with `allowZero`, meaning "any free port"). */
export function port(options: { readonly allowZero?: boolean } = {}) {
  const min = options.allowZero === true ? 0 : 1;
  return parsed((raw) => {
    const value = /^\d{1,5}$/.test(raw) ? Number(raw) : NaN;
    return value >= min && value <= 65535
      ? { value }
      : { error: `must be a port number (${min}-65535)` };
  });
}

const UNIT_MS = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 } as const;

/** A duration in ms: `250ms`, `5s`, `1.5s`, `2m`, `1h`, `1d`, or a bare number of ms. */
export function duration(options: { readonly min?: number; readonly max?: number } = {}) {
  const { min = 0, max = Number.MAX_SAFE_INTEGER } = options;
  return parsed((raw) => {
    const match = /^(\d+(?:\.\d+)?)(ms|s|m|h|d)?$/.exec(raw);
    if (match === null) return { error: 'must be a duration such as 250ms, 5s, 2m or 1h' };
    const unit = (match[2] ?? 'ms') as keyof typeof UNIT_MS;
    const value = Math.round(Number(match[1]) * UNIT_MS[unit]);
    if (value < min) return { error: `must be at least ${min}ms` };
    if (value > max) return { error: `must be at most ${max}ms` };
    return { value };
  });
}

const BOOLEANS: Readonly<Record<string, boolean>> = {
  true: true,
  false: false,
  '1': true,
  '0': false,
  yes: true,
  no: false,
};

/** A boolean: true/false, 1/0, yes/no (any case). */
export function bool() {
  return parsed((raw) => {
    const value = BOOLEANS[raw.toLowerCase()];
    return value === undefined ? { error: 'must be true, false, 1, 0, yes or no' } : { value };
  });
}

/** An integer, optionally bounded. */
export function int(options: { readonly min?: number; readonly max?: number } = {}) {
  const { min = Number.MIN_SAFE_INTEGER, max = Number.MAX_SAFE_INTEGER } = options;
  return parsed((raw) => {
    const value = /^[+-]?\d+$/.test(raw) ? Number(raw) : NaN;
    if (!Number.isSafeInteger(value)) return { error: 'must be an integer' };
    if (value < min) return { error: `must be at least ${min}` };
    if (value > max) return { error: `must be at most ${max}` };
    return { value };
  });
}

/** A comma-separated list, items trimmed, empty items dropped; each item checked by `item`. */
export function list<T extends z.ZodType<unknown, string> = z.ZodString>(item?: T) {
  const items = z.string().transform((raw) =>
    raw
      .split(',')
      .map((part) => part.trim())
      .filter((part) => part !== ''),
  );
  return items.pipe(z.array((item ?? z.string()) as T));
}

/** One of a fixed set of strings (case-sensitive). */
export function enumOf<const T extends readonly [string, ...string[]]>(values: T) {
  return z.enum(values, { error: `must be one of ${values.join(', ')}` });
}

/** `a=x,b=y`: a value per namespace, each read by `parse` (undefined: not one; `example` says what is). */
export function perNamespace<T>(parse: (text: string) => T | undefined, example: string) {
  return z.string().transform((raw, ctx): Record<string, T> => {
    const values: Record<string, T> = {};
    for (const part of raw.split(',').map((p) => p.trim())) {
      if (part === '') continue;
      const [namespace = '', text = ''] = part.split('=').map((p) => p.trim());
      const value = parse(text);
      if (namespace === '' || value === undefined) {
        ctx.issues.push({ code: 'custom', message: `"${part}" is not ${example}`, input: raw });
        return z.NEVER;
      }
      values[namespace] = value;
    }
    return values;
  });
}

/**
 * A value read by `parse`, which throws an Error saying what is wrong (its message becomes the
 * problem, named by the variable); an empty value is undefined (unset).
 */
export function parsedBy<T>(parse: (text: string) => T) {
  return z
    .string()
    .transform((raw, ctx): T | undefined => {
      if (raw.trim() === '') return undefined;
      try {
        return parse(raw);
      } catch (error) {
        ctx.issues.push({ code: 'custom', message: (error as Error).message, input: raw });
        return z.NEVER;
      }
    })
    .optional();
}
