// The index snapshot is kept in ConfigMaps (the resolver's snapshot store), and a ConfigMap holds
// at most 1 MiB: the JSON is cut into shards.
/** Room left under the API server's 1 MiB object limit for metadata. */
export const SHARD_LIMIT_BYTES = 900 * 1024;

/** Cuts `text` into pieces of at most `limitBytes` UTF-8 bytes, never inside a character. */
export function splitShards(text: string, limitBytes: number): string[] {
  if (limitBytes < 4) throw new RangeError('a shard holds at least 4 bytes');
  const shards: string[] = [];
  let start = 0;
  do {
    let end = Math.min(text.length, start + limitBytes);
    let bytes = Buffer.byteLength(text.slice(start, end));
    while (bytes > limitBytes) {
      end -= Math.max(1, Math.floor((bytes - limitBytes) / 3));
      bytes = Buffer.byteLength(text.slice(start, end));
    }
    const code = text.charCodeAt(end - 1);
    if (end < text.length && code >= 0xd800 && code <= 0xdbff) end -= 1;
    shards.push(text.slice(start, end));
    start = end;
  } while (start < text.length);
  return shards;
}
