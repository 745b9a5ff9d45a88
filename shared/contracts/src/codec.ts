// Decoding at a boundary: bytes (or a parsed value) in, a typed message or a ContractError out.
import { OnpushError } from './failure.js';
import type { z } from 'zod';

export type ContractErrorType = 'invalid_json' | 'invalid_message';

export interface ContractIssue {
  /** Dotted path to the field, `(root)` for the message itself. */
  readonly path: string;
  readonly message: string;
}

/** A message that breaks its contract. Never retryable: redelivery brings the same bytes. */
export class ContractError extends OnpushError<ContractErrorType> {
  override readonly name = 'ContractError';
  constructor(
    type: ContractErrorType,
    /** What was expected, e.g. `ImagePushed`. */
    readonly kind: string,
    readonly issues: readonly ContractIssue[],
    options?: { cause?: unknown },
  ) {
    const listed = issues.map((issue) => `${issue.path}: ${issue.message}`).join('; ');
    super(`invalid ${kind}: ${listed}`, { ...options, type, retryable: false });
  }
}

export type Decoded<T> =
  | { readonly ok: true; readonly value: T }
  | { readonly ok: false; readonly error: ContractError };

const utf8 = new TextDecoder('utf-8', { fatal: true });

/**
 * Validates `input` against `schema`. Bytes and strings are JSON text; anything else is taken
 * as an already parsed value. Never throws.
 */
export function decode<T>(schema: z.ZodType<T>, input: unknown, kind = 'message'): Decoded<T> {
  let value: unknown = input;
  if (input instanceof Uint8Array || typeof input === 'string') {
    const json = readJson(input, kind);
    if (!json.ok) return json;
    value = json.value;
  }
  const result = schema.safeParse(value);
  if (result.success) return { ok: true, value: result.data };
  const issues = result.error.issues.map((issue) => ({
    path: issue.path.length === 0 ? '(root)' : issue.path.map(String).join('.'),
    message: issue.message,
  }));
  return {
    ok: false,
    error: new ContractError('invalid_message', kind, issues, { cause: result.error }),
  };
}

/** Like decode, but throws the ContractError. */
export function decodeOrThrow<T>(schema: z.ZodType<T>, input: unknown, kind = 'message'): T {
  const decoded = decode(schema, input, kind);
  if (!decoded.ok) throw decoded.error;
  return decoded.value;
}

function readJson(input: Uint8Array | string, kind: string): Decoded<unknown> {
  try {
    const text = typeof input === 'string' ? input : utf8.decode(input);
    return { ok: true, value: JSON.parse(text) as unknown };
  } catch (cause) {
    const message = cause instanceof Error ? cause.message : String(cause);
    const issue = { path: '(root)', message: `not JSON: ${message}` };
    return { ok: false, error: new ContractError('invalid_json', kind, [issue], { cause }) };
  }
}
