import { createHash } from 'node:crypto';
import { PubSub, type Message, type Topic } from '@google-cloud/pubsub';
import { BENCH_REGISTRY } from './cluster.js';
import { PUSH_PATH, pushAuthorization } from './push-auth.js';

export const digestOf = (n: number): string =>
  `sha256:${createHash('sha256').update(`bench-${n}`).digest('hex')}`;

export function garBody(image: string, n: number): string {
  return JSON.stringify({
    action: 'INSERT',
    tag: `${image}:1.0`,
    digest: `${image}@${digestOf(n)}`,
  });
}

/**
 * A push through ingest's authenticated Pub/Sub push endpoint (a registry webhook over HTTP).
 * Returns the event id.
 */
export async function postPush(
  ingestPort: number,
  id: string,
  body: string,
  /** When the message was published (a redelivery keeps its first time): now by default. */
  publishTime = new Date(),
): Promise<string> {
  const status = await postPushStatus(ingestPort, id, body, publishTime);
  if (status >= 300) throw new Error(`push ${id}: HTTP ${status}`);
  return `gar:${id}`;
}

/** POSTs one push as `postPush` does; answers ingest's HTTP status instead of judging it. */
export async function postPushStatus(
  ingestPort: number,
  id: string,
  body: string,
  publishTime = new Date(),
): Promise<number> {
  const envelope = {
    message: {
      data: Buffer.from(body).toString('base64'),
      messageId: id,
      publishTime: publishTime.toISOString(),
    },
    subscription: 'projects/onpush-bench/subscriptions/push',
  };
  const response = await fetch(`http://127.0.0.1:${ingestPort}${PUSH_PATH}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: pushAuthorization() },
    body: JSON.stringify(envelope),
  });
  await response.arrayBuffer();
  return response.status;
}

export interface PubsubBench {
  topic: Topic;
  /** Publishes `count` copies of `body` as fast as the client batches them (1,000 per call). */
  burst(count: number, body: string): Promise<void>;
  /** Publish-to-delivery times of a bare subscriber on the same topic, by message id. */
  bareDelivery: Map<string, number>;
  close(): Promise<void>;
}

/** The emulator's topic with publisher batching off, and a bare subscriber measuring delivery. */
export async function pubsubBench(host: string, project: string): Promise<PubsubBench> {
  const pubsub = new PubSub({ projectId: project, apiEndpoint: host, emulatorMode: true });
  const topic = pubsub.topic('gcr', { batching: { maxMessages: 1, maxMilliseconds: 0 } });
  const batched = pubsub.topic('gcr', { batching: { maxMessages: 1_000, maxMilliseconds: 5 } });
  const [exists] = await topic.exists();
  if (!exists) await topic.create();
  const [subscription] = await topic.createSubscription(`bench-bare-${Date.now()}`);
  const bareDelivery = new Map<string, number>();
  subscription.on('message', (message: Message) => {
    bareDelivery.set(message.id, performance.now());
    message.ack();
  });
  return {
    topic,
    burst: async (count, body) => {
      const data = Buffer.from(body);
      await Promise.all(Array.from({ length: count }, () => batched.publishMessage({ data })));
    },
    bareDelivery,
    close: async () => {
      await subscription.close();
      await subscription.delete().catch(() => undefined);
      await pubsub.close();
    },
  };
}

export const appImage = (i: number): string => `${BENCH_REGISTRY}/app-${i}`;
