// The console's API as the page calls it: every request with the bearer token the operator gave
// (kept in sessionStorage for this tab only), the live stream read from fetch's streaming body
// (EventSource cannot send an Authorization header). No cookies: nothing a cross-site page could
// ride on.
const KEY = 'onpush.console.token';

export const session = {
  token: (): string | null => sessionStorage.getItem(KEY),
  signIn: (token: string): void => sessionStorage.setItem(KEY, token.trim()),
  signOut: (): void => sessionStorage.removeItem(KEY),
};

/** The API answered 401: the token is missing, wrong or was rotated. */
export class Unauthorized extends Error {
  override readonly name = 'Unauthorized';
}

/** The token kept, as the bearer; none kept: nothing (a proxy in front may add its own). */
const headers = (): Record<string, string> => {
  const token = session.token();
  return token ? { authorization: `Bearer ${token}` } : {};
};

/** `api/<path>` relative to the page, so the console works under any path prefix. */
export async function api<T>(path: string, init: RequestInit = {}): Promise<T> {
  const res = await fetch(`api/${path}`, { ...init, headers: headers() });
  if (res.status === 401) throw new Unauthorized('the token was refused');
  if (res.status === 204) return undefined as T;
  const body = (await res.json().catch(() => ({}))) as { error?: string };
  if (!res.ok) throw new Error(body.error ?? `HTTP ${res.status}`);
  return body as T;
}

/**
 * Reads the server-sent events of `api/<path>`, calling `onEvent` for each, until `signal` aborts
 * or the server ends the stream; `onOpen` once the server answered.
 */
export async function follow(
  path: string,
  onEvent: (event: string, data: string) => void,
  signal: AbortSignal,
  onOpen: () => void = () => undefined,
): Promise<void> {
  const res = await fetch(`api/${path}`, {
    headers: { ...headers(), accept: 'text/event-stream' },
    signal,
  });
  if (res.status === 401) throw new Unauthorized('the token was refused');
  if (!res.ok || res.body === null) throw new Error(`the live stream answered ${res.status}`);
  onOpen();
  const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = '';
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return;
    buffer += value;
    let end = buffer.indexOf('\n\n');
    while (end >= 0) {
      const block = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      let event = 'message';
      const data: string[] = [];
      for (const line of block.split('\n')) {
        if (line.startsWith('event:')) event = line.slice(6).trim();
        else if (line.startsWith('data:')) data.push(line.slice(5).trimStart());
      }
      if (data.length) onEvent(event, data.join('\n'));
      end = buffer.indexOf('\n\n');
    }
  }
}

/** `a=1&b=2` of the non-empty entries. */
export function query(values: Record<string, string | undefined>): string {
  const q = new URLSearchParams();
  for (const [key, value] of Object.entries(values)) if (value) q.set(key, value);
  return q.toString();
}
