import { PubSub, type Message, type Subscription } from '@google-cloud/pubsub';
import { describe, expect, it } from 'vitest';
import { useSandbox } from '@onpush/testing';

function nextMessage(subscription: Subscription, timeoutMs = 15_000): Promise<Message> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('no message within timeout')), timeoutMs);
    subscription.once('message', (message: Message) => {
      clearTimeout(timer);
      resolve(message);
    });
    subscription.once('error', reject);
  });
}

// Given the real Pub/Sub emulator, the client library creates the registry's topic and a
// subscription, publishes a notification, receives it, and the ack decides whether it returns.
describe('Pub/Sub emulator', () => {
  const sandbox = useSandbox(['pubsub'], 'pubsub');

  it('delivers a message published on topic gcr; a nack redelivers it, an ack settles it', async () => {
    const pubsub = new PubSub({
      projectId: sandbox().pubsubProject,
      apiEndpoint: sandbox().need('pubsub').host,
      emulatorMode: true,
    });
    try {
      const [topic] = await pubsub.createTopic('gcr');
      const [subscription] = await topic.createSubscription('onpush-gcr', {
        ackDeadlineSeconds: 10,
      });
      const body = JSON.stringify({ action: 'INSERT', tag: 'us-docker.pkg.dev/p/r/app:1.1' });

      const first = nextMessage(subscription);
      const messageId = await topic.publishMessage({
        data: Buffer.from(body),
        attributes: { kind: 'test' },
      });
      const delivered = await first;
      expect(delivered.id).toBe(messageId);
      expect(delivered.data.toString()).toBe(body);
      expect(delivered.attributes).toEqual({ kind: 'test' });

      const again = nextMessage(subscription);
      delivered.nack();
      const redelivered = await again;
      expect(redelivered.id).toBe(messageId);
      expect(await redelivered.ackWithResponse()).toBe('SUCCESS');
      await subscription.close();
    } finally {
      await pubsub.close();
    }
  });
});
