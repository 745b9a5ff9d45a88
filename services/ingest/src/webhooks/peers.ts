// Failed authentication is paid for by whoever fails it: each peer (remote address; an IPv6
// address by its /64, which one host can fill) has a bucket of its own that only failures draw
// from, and a failure past it is answered 429 rather than 401. Senders that prove themselves draw
// only from their endpoint's bucket: a flood of junk cannot spend a real sender's rate.
import { isIPv6 } from 'node:net';
import { TokenBucket } from '@onpush/service';

export interface PeerLimit {
  perSecond: number;
  burst: number;
}

/** Failed authentications a peer may make: 20 at once, then 2 per second. */
export const DEFAULT_PEER_LIMIT: PeerLimit = { perSecond: 2, burst: 20 };

/** Peers remembered at once; past this the least recently seen is forgotten. */
const MAX_PEERS = 10_000;

/** The expanded eight groups of an IPv6 address, or undefined. */
function groups(address: string): string[] | undefined {
  const [head = '', tail] = address.split('::');
  const left = head === '' ? [] : head.split(':');
  const right = tail === undefined || tail === '' ? [] : tail.split(':');
  const missing = 8 - left.length - right.length;
  if (tail === undefined ? missing !== 0 : missing < 0) return undefined;
  return [...left, ...new Array<string>(missing).fill('0'), ...right];
}

/** The key of a remote address: IPv4 (also IPv4-mapped) as is, IPv6 by its /64 prefix. */
export function peerKey(address: string | undefined): string {
  if (address === undefined || address === '') return 'unknown';
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address);
  if (mapped) return mapped[1]!;
  if (!isIPv6(address)) return address;
  const prefix = groups(address.split('%')[0]!)?.slice(0, 4);
  return prefix
    ? `${prefix.map((g) => g.toLowerCase().replace(/^0+(?=.)/, '')).join(':')}::/64`
    : address;
}

/** Each peer's bucket of failed authentications. */
export class PeerBuckets {
  private readonly buckets = new Map<string, TokenBucket>();

  constructor(
    private readonly limit: PeerLimit = DEFAULT_PEER_LIMIT,
    private readonly now?: () => number,
  ) {}

  private bucket(peer: string): TokenBucket {
    let bucket = this.buckets.get(peer);
    if (bucket !== undefined) {
      this.buckets.delete(peer); // re-inserted: the most recently seen last
    } else {
      if (this.buckets.size >= MAX_PEERS)
        this.buckets.delete(this.buckets.keys().next().value ?? '');
      bucket = new TokenBucket({
        qps: this.limit.perSecond,
        burst: this.limit.burst,
        ...(this.now ? { now: this.now } : {}),
      });
    }
    this.buckets.set(peer, bucket);
    return bucket;
  }

  /** Charges one failed authentication to the peer: 0, or ms until it may fail again (over). */
  fail(peer: string): number {
    return this.bucket(peer).tryTake();
  }
}
