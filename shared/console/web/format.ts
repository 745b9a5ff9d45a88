// Small formatting helpers shared by the views.

/** `12s`, `4m`, `3h`, `2d` since `iso`. */
export function age(iso: string, now = Date.now()): string {
  const s = Math.max(0, Math.round((now - Date.parse(iso)) / 1000));
  if (s < 120) return `${s}s`;
  if (s < 7_200) return `${Math.round(s / 60)}m`;
  if (s < 172_800) return `${Math.round(s / 3_600)}h`;
  return `${Math.round(s / 86_400)}d`;
}

/** The local time of day of `iso`, with the date when it is not today. */
export function when(iso: string): string {
  const d = new Date(iso);
  const time = d.toLocaleTimeString(undefined, { hour12: false });
  return d.toDateString() === new Date().toDateString()
    ? time
    : `${d.toLocaleDateString()} ${time}`;
}

/** `sha256:0123456789ab…`. */
export const shortDigest = (digest: string | undefined): string =>
  digest === undefined ? '' : `${digest.slice(0, 19)}…`;

export const ms = (value: number | undefined): string =>
  value === undefined
    ? ''
    : value < 10_000
      ? `${Math.round(value)} ms`
      : `${(value / 1000).toFixed(1)} s`;

/** The trace link of a trace id, when the console has a trace URL. */
export const traceHref = (template: string | null, traceId: string | undefined) =>
  template === null || traceId === undefined
    ? undefined
    : template.replaceAll('{traceId}', traceId);

/** The base64 payload as text, pretty-printed when it is JSON. */
export function decodePayload(base64: string): string {
  const bytes = Uint8Array.from(atob(base64), (c) => c.charCodeAt(0));
  const text = new TextDecoder('utf-8', { fatal: false }).decode(bytes);
  try {
    return JSON.stringify(JSON.parse(text), null, 2);
  } catch {
    return text;
  }
}
