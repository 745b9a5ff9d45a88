import {
  Duration,
  PubSub,
  SubscriptionCloseBehaviors,
  type ClientConfig,
  type Subscription,
} from '@google-cloud/pubsub';

/** gRPC ALREADY_EXISTS. */
const ALREADY_EXISTS = 6;

/**
 * How long closing the subscriber waits for handlers in flight to ack or nack; what is still
 * held then is nacked (Pub/Sub redelivers it). Below a publish timeout plus a SIGKILL grace.
 */
export const CLOSE_TIMEOUT_SECONDS = 10;

export interface PubSubSettings {
  project: string;
  /** `host:port` of the emulator; the client library also reads PUBSUB_EMULATOR_HOST itself. */
  emulatorHost?: string | undefined;
}

export function createPubSub(settings: PubSubSettings): PubSub {
  const config: ClientConfig = { projectId: settings.project };
  if (settings.emulatorHost) {
    config.apiEndpoint = settings.emulatorHost;
    config.emulatorMode = true;
  }
  return new PubSub(config);
}

function isAlreadyExists(error: unknown): boolean {
  return (
    typeof error === 'object' &&
    error !== null &&
    (error as { code?: unknown }).code === ALREADY_EXISTS
  );
}

async function ignoreAlreadyExists(call: Promise<unknown>): Promise<void> {
  await call.catch((error: unknown) => {
    if (!isAlreadyExists(error)) throw error;
  });
}

/**
 * Creates the topic and a pull subscription on it when missing (sandbox, demo); idempotent.
 * A nacked message comes back after 1 s, growing to 60 s, not at once: while JetStream is
 * down, redeliveries do not spin.
 */
export async function ensureSubscription(
  pubsub: PubSub,
  topic: string,
  subscription: string,
): Promise<void> {
  await ignoreAlreadyExists(pubsub.topic(topic).create());
  await ignoreAlreadyExists(
    pubsub.topic(topic).createSubscription(subscription, {
      ackDeadlineSeconds: 60,
      retryPolicy: { minimumBackoff: { seconds: 1 }, maximumBackoff: { seconds: 60 } },
    }),
  );
}

/**
 * The streaming-pull subscription: at most `maxMessages` and `maxBytes` of data held at once
 * (excess messages stay with Pub/Sub), and a close that lets handlers in flight finish before
 * nacking the rest.
 */
export function pullSubscription(
  pubsub: PubSub,
  name: string,
  maxMessages: number,
  maxBytes?: number,
): Subscription {
  return pubsub.subscription(name, {
    flowControl: {
      maxMessages,
      ...(maxBytes !== undefined ? { maxBytes } : {}),
      allowExcessMessages: false,
    },
    closeOptions: {
      behavior: SubscriptionCloseBehaviors.WaitForProcessing,
      timeout: Duration.from({ seconds: CLOSE_TIMEOUT_SECONDS }),
    },
  });
}
