/** Why a raw delivery cannot become an event. Never retryable: the same bytes fail the same way. */
export type ParseErrorType =
  | 'invalid_json'
  | 'missing_field'
  | 'invalid_reference'
  | 'unknown_source'
  | 'invalid_encoding';

export class ParseError extends Error {
  override readonly name = 'ParseError';
  readonly retryable = false;
  readonly type: ParseErrorType;
  constructor(type: ParseErrorType, message: string, options?: ErrorOptions) {
    super(message, options);
    this.type = type;
  }
}

/** JSON.parse of raw bytes, as a ParseError when they are not JSON. */
export function parseJson(data: Uint8Array): unknown {
  const text = new TextDecoder('utf-8', { fatal: false }).decode(data);
  try {
    return JSON.parse(text) as unknown;
  } catch (cause) {
    throw new ParseError('invalid_json', `body is not JSON: ${(cause as Error).message}`, {
      cause,
    });
  }
}

export function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** A string field, or a `missing_field` ParseError naming it. */
export function requireString(
  body: Record<string, unknown>,
  field: string,
  where = 'body',
): string {
  const value = body[field];
  if (typeof value !== 'string' || value.trim() === '') {
    throw new ParseError('missing_field', `${where}.${field} must be a non-empty string`);
  }
  return value;
}
