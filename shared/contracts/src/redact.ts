// Credentials in URLs (`nats://user:password@host`, `https://token@host`) never reach an error
// message or a log line: the userinfo part is replaced by `***`.

// A scheme, `//`, then userinfo up to the first `@` that comes before any `/`, `?`, `#`, space,
// comma (a comma separates URLs in a list such as NATS_URL's), quote or backslash (the end of a
// JSON string: a log line is redacted as JSON text).
const USERINFO = /\b([a-z][a-z0-9+.-]*:\/\/)[^/?#@\s,"\\]*@/gi;

/** `text` with the userinfo of every URL in it replaced by `***`. */
export function redactUrls(text: string): string {
  return text.replace(USERINFO, '$1***@');
}
