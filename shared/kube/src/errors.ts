import { OnpushError } from '@onpush/contracts';
/** Why a Kubernetes API call failed, and whether the broker should try again. */
export class KubeApiError extends OnpushError {
  override readonly name = 'KubeApiError';
  readonly status: number | undefined;

  /** Its type is low-cardinality: `http_403`, `http_429`, `network` (no response), ... */
  constructor(
    message: string,
    init: { status?: number | undefined; retryAfterMs?: number | undefined; cause?: unknown },
  ) {
    super(message, {
      type: init.status === undefined ? 'network' : `http_${init.status}`,
      retryable: isRetryableStatus(init.status),
      retryAfterMs: init.retryAfterMs,
      cause: init.cause,
    });
    this.status = init.status;
  }
}

/** 409 (conflict), 429 (throttled), 5xx and network failures pass; 4xx otherwise will not. */
export function isRetryableStatus(status: number | undefined): boolean {
  if (status === undefined) return true;
  return status === 409 || status === 429 || status >= 500;
}

/** `Retry-After` as seconds or an HTTP date, in milliseconds. */
export function parseRetryAfter(value: string | undefined, now = Date.now()): number | undefined {
  if (!value) return undefined;
  const seconds = Number(value);
  if (Number.isFinite(seconds)) return Math.max(0, seconds * 1000);
  const date = Date.parse(value);
  return Number.isNaN(date) ? undefined : Math.max(0, date - now);
}

interface ClientNodeApiException {
  code: number;
  body: unknown;
  headers: Record<string, string>;
}

function isApiException(error: unknown): error is ClientNodeApiException {
  return (
    typeof error === 'object' &&
    error !== null &&
    typeof (error as { code?: unknown }).code === 'number'
  );
}

/** Turns whatever client-node threw into a KubeApiError (status, message from the Status body). */
export function toKubeApiError(error: unknown): KubeApiError {
  if (error instanceof KubeApiError) return error;
  if (isApiException(error)) {
    const body = typeof error.body === 'string' ? safeJson(error.body) : error.body;
    const message = (body as { message?: string } | undefined)?.message ?? `HTTP ${error.code}`;
    return new KubeApiError(message, {
      status: error.code,
      retryAfterMs: parseRetryAfter(error.headers['retry-after']),
      cause: error,
    });
  }
  return new KubeApiError(error instanceof Error ? error.message : String(error), { cause: error });
}

/** Awaits a create `call`; a 409 (the object exists already) counts as done. */
export async function ignoreConflict(call: Promise<unknown>): Promise<void> {
  await call.catch((error: unknown) => {
    if (toKubeApiError(error).status !== 409) throw error;
  });
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return { message: text };
  }
}
