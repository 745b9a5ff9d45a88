// Bodies and messages of every size, up to and past each limit, by the three ways in: a webhook
// POST, a Pub/Sub push, a Pub/Sub pull (the emulator). Each must end as exactly one event (one
// fate in the audit, a dead letter when it is dead) or as one 4xx — never in flight for good.
import { createHash, randomUUID } from 'node:crypto';
import type { Topic } from '@google-cloud/pubsub';
import { pushEndpoint } from '../support/pubsub-push.js';
import { deliverTo, envelope } from './storm.js';

const MIB = 1024 * 1024;

/** The largest body the `pubsub` and `dist` endpoints take: past the broker's 1 MiB, on purpose. */
export const ENDPOINT_LIMIT = 4 * MIB;
export const DIST_TOKEN = 'hostile-sizes-token-0123456789abcdef0123';

/**
 * Data sizes around each limit: the broker's max_payload (1 MiB, data and headers), a dead letter
 * (the payload in base64 is a third larger: from ~780 KB it no longer fits), and the endpoints'
 * 4 MiB (a push envelope carries its data in base64).
 */
export const SIZES = {
  push: [10, 500_000, 770_000, 786_000, 1_040_000, MIB, 2 * MIB, 3 * MIB],
  pull: [10, 786_000, 1_000_000, 1_040_000, MIB, 2 * MIB, 5 * MIB],
  webhook: [10, 786_000, 1_000_000, 1_048_000, 3 * MIB, 5 * MIB],
} as const;

/** Ingest's endpoints: Pub/Sub push and a Distribution webhook, both taking 4 MiB bodies. */
export function sizesEnv(): NodeJS.ProcessEnv {
  const dist = {
    name: 'dist',
    source: 'distribution',
    auth: { type: 'token', header: 'authorization', prefix: 'Bearer ', secretEnv: 'DIST_TOKEN' },
    maxBodyBytes: ENDPOINT_LIMIT,
    rateLimit: { perSecond: 100_000, burst: 1_000_000 },
  };
  return {
    WEBHOOKS: JSON.stringify([pushEndpoint({ maxBodyBytes: ENDPOINT_LIMIT }), dist]),
    DIST_TOKEN,
  };
}

export interface SizedSend {
  via: 'push' | 'pull' | 'webhook';
  size: number;
  /** The original bytes (not JSON: every one that enters ends dead, invalid_json). */
  data: Buffer;
  /** The answer to an HTTP send; undefined for a pulled message. */
  status?: number;
  /** The event it became, when it entered. */
  eventId?: string;
}

/** `size` bytes that are not JSON, different for each send. */
function bytesOf(size: number): Buffer {
  const data = Buffer.alloc(size, 'x');
  data.write(randomUUID(), 0);
  return data.subarray(0, size);
}

/** Sends every size by every way in; what each became at the door. */
export async function sendSizes(
  ingestUrl: string,
  topic: Topic,
  pushHeaders: () => Record<string, string>,
): Promise<SizedSend[]> {
  const sent: SizedSend[] = [];
  for (const size of SIZES.push) {
    const data = bytesOf(size);
    const messageId = `sized-${randomUUID()}`;
    const url = () => `${ingestUrl}/webhooks/pubsub`;
    const { status } = await deliverTo(url, envelope(messageId, data), pushHeaders());
    sent.push({ via: 'push', size, data, status, eventId: `gar:${messageId}` });
  }
  for (const size of SIZES.pull) {
    const data = bytesOf(size);
    const id = await topic.publishMessage({ data });
    sent.push({ via: 'pull', size, data, eventId: `gar:${id}` });
  }
  for (const size of SIZES.webhook) {
    const data = bytesOf(size);
    const { status } = await deliverTo(() => `${ingestUrl}/webhooks/dist`, data.toString(), {
      authorization: `Bearer ${DIST_TOKEN}`,
    });
    // Not JSON: the delivery is keyed by the SHA-256 of its body.
    const eventId = `distribution:${createHash('sha256').update(data).digest('hex')}`;
    sent.push({ via: 'webhook', size, data, status, eventId });
  }
  return sent;
}

/** True when the send entered the pipeline (an event), false when it was refused (a 4xx). */
export const entered = (s: SizedSend): boolean =>
  s.status === undefined || (s.status >= 200 && s.status < 300);
