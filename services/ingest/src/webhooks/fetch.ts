import { FetchError } from './errors.js';

export type Fetcher = typeof fetch;

export interface Fetched {
  text: string;
  /** Cache-Control max-age, in ms, when the server gave one. */
  maxAgeMs?: number | undefined;
}

const MAX_BYTES = 256 * 1024;

function maxAge(cacheControl: string | null): number | undefined {
  const match = /(?:^|,)\s*max-age=(\d+)/i.exec(cacheControl ?? '');
  return match?.[1] === undefined ? undefined : Number(match[1]) * 1000;
}

/**
 * GETs `url`: redirects are refused (an allowed host must not send us elsewhere), the answer
 * must be 2xx and small, and the whole exchange is bounded by `timeoutMs`.
 */
export async function getText(
  url: string,
  fetcher: Fetcher = fetch,
  timeoutMs = 5_000,
): Promise<Fetched> {
  let response: Response;
  try {
    response = await fetcher(url, { redirect: 'error', signal: AbortSignal.timeout(timeoutMs) });
  } catch (error) {
    throw new FetchError(`GET ${new URL(url).origin} failed: ${(error as Error).message}`, {
      cause: error,
    });
  }
  const declared = Number(response.headers.get('content-length') ?? 0);
  if (!response.ok || declared > MAX_BYTES) {
    await response.body?.cancel();
    throw new FetchError(`GET ${new URL(url).origin} answered ${response.status}`);
  }
  const text = await response.text().catch((error: unknown) => {
    throw new FetchError(`reading ${new URL(url).origin} failed`, { cause: error });
  });
  if (text.length > MAX_BYTES) throw new FetchError(`${new URL(url).origin} answered too much`);
  return { text, maxAgeMs: maxAge(response.headers.get('cache-control')) };
}
