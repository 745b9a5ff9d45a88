import type { Publish } from '@onpush/nats';
import { reconnectDelayMs, type LifecycleEvent } from '@onpush/service';
import type { Logger } from '@onpush/telemetry';
import { storeOversized } from './dead-letter.js';
import { acceptGarDelivery, type GarDelivery } from './handler.js';
import { countStored, type IngestMetrics } from './metrics.js';
import { PayloadTooLargeError } from './payload-limit.js';

/** What the pull path needs of a client-library `Message` (which satisfies it). */
export interface PulledMessage {
  readonly id: string;
  readonly data: Uint8Array;
  readonly attributes: Readonly<Record<string, string>>;
  readonly publishTime?: Date | undefined;
  ack(): void;
  nack(): void;
}

/** What the pull path needs of a client-library `Subscription` (which satisfies it). */
export interface PullSubscription {
  readonly name: string;
  readonly isOpen: boolean;
  on(event: 'message', listener: (message: PulledMessage) => void): unknown;
  on(event: 'error', listener: (error: Error) => void): unknown;
  on(event: 'close', listener: () => void): unknown;
  open(): void;
  close(): Promise<void>;
}

export interface PullHandlerDeps {
  publish: Publish;
  metrics: IngestMetrics;
  log: Logger;
  subscription?: string | undefined;
  now?: () => Date;
}

export function pulledDelivery(message: PulledMessage, subscription?: string): GarDelivery {
  return {
    data: message.data,
    messageId: message.id,
    publishTime: message.publishTime,
    attributes: message.attributes,
    via: 'pull',
    subscription,
  };
}

/**
 * One pulled message: stored on JetStream, then acked. When the publish fails the message is
 * nacked and Pub/Sub redelivers it; it is never acked before JetStream stored it. A message too
 * large for JetStream would fail forever: it becomes a dead letter (`payload_too_large`) and a
 * `dead` outcome instead, and is acked once both are stored.
 */
export async function handlePulled(
  message: PulledMessage,
  deps: PullHandlerDeps,
): Promise<'ack' | 'nack'> {
  const started = performance.now();
  const options = deps.now ? { now: deps.now } : {};
  const delivery = pulledDelivery(message, deps.subscription);
  let outcome: 'ack' | 'nack';
  try {
    try {
      const published = await acceptGarDelivery(deps.publish, delivery, options);
      countStored(deps.metrics, 'pull', published, (performance.now() - started) / 1000);
    } catch (error) {
      if (!(error instanceof PayloadTooLargeError)) throw error;
      await storeOversized(deps.publish, delivery, error, (deps.now ?? (() => new Date()))());
      deps.metrics.deliveries.inc({ via: 'pull', result: 'dead' });
      deps.log.warn('too large for JetStream; dead-lettered and acked', {
        messageId: message.id,
        error: error.message,
      });
    }
    outcome = 'ack';
  } catch (error) {
    deps.metrics.deliveries.inc({ via: 'pull', result: 'failed' });
    deps.log.warn('not stored; nacked for redelivery', { messageId: message.id, error });
    outcome = 'nack';
  }
  if (outcome === 'ack') message.ack();
  else message.nack();
  deps.metrics.pubsubSettled.inc({ action: outcome });
  return outcome;
}

export interface PullOptions extends PullHandlerDeps {
  report: (event: LifecycleEvent) => void;
  /** Registers a handler in flight, so drain can wait for it. */
  track: (task: Promise<unknown>) => void;
  /** Runs before re-opening a closed subscription (e.g. creates it when missing). */
  beforeReopen?: () => Promise<void>;
  /**
   * Resolves when a re-opened subscription answers (e.g. its metadata can be read): reported
   * back then. Without it, pubsub is back only once a message arrives.
   */
  probe?: () => Promise<void>;
  reopenDelayMs?: (attempt: number) => number;
}

export interface PullHandle {
  /** Stops pulling; resolves once the client library settled what it held. */
  close(): Promise<void>;
}

/** Keeps one subscription pulling: reports it lost and back, re-opens it when the library gave up. */
class Puller implements PullHandle {
  private stopping = false;
  private lost = false;
  private attempts = 0;
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly subscription: PullSubscription,
    private readonly options: PullOptions,
  ) {}

  lose(): void {
    if (this.lost || this.stopping) return;
    this.lost = true;
    this.options.report({ type: 'DEPENDENCY_LOST', dependency: 'pubsub' });
  }

  back(): void {
    if (!this.lost || this.stopping) return;
    this.lost = false;
    this.options.report({ type: 'DEPENDENCY_BACK', dependency: 'pubsub' });
  }

  onMessage(message: PulledMessage): void {
    this.attempts = 0; // only flowing messages reset the re-open delay, so a flapping stream backs off
    this.back();
    this.options.track(
      handlePulled(message, { ...this.options, subscription: this.subscription.name }),
    );
  }

  onClose(): void {
    if (this.stopping) return;
    this.lose();
    this.scheduleReopen();
  }

  private scheduleReopen(): void {
    this.attempts += 1;
    const wait = (this.options.reopenDelayMs ?? reconnectDelayMs)(this.attempts);
    this.options.log.info('pubsub subscription closed; re-opening', {
      attempt: this.attempts,
      inMs: wait,
    });
    this.timer = setTimeout(() => void this.reopen(), wait);
  }

  private async reopen(): Promise<void> {
    this.timer = undefined;
    try {
      if (!this.stopping) await this.options.beforeReopen?.();
    } catch (error) {
      this.options.log.warn('pubsub subscription not ready', { error });
      if (!this.stopping) this.scheduleReopen();
      return;
    }
    if (this.stopping) return;
    this.subscription.open();
    if (this.options.probe === undefined) return; // back once a message arrives
    try {
      await this.options.probe();
      if (this.subscription.isOpen) this.back();
    } catch (error) {
      this.options.log.warn('pubsub probe failed after re-open', { error });
    }
  }

  async close(): Promise<void> {
    this.stopping = true;
    if (this.timer !== undefined) clearTimeout(this.timer);
    await this.subscription.close();
  }
}

/**
 * Streaming pull on `subscription`. An error reports DEPENDENCY_LOST `pubsub`; a stream the
 * library gave up on is re-opened with a growing delay. DEPENDENCY_BACK once messages flow
 * again or the re-opened subscription answers the probe.
 */
export function startPull(subscription: PullSubscription, options: PullOptions): PullHandle {
  const puller = new Puller(subscription, options);
  subscription.on('error', (error) => {
    options.log.warn('pubsub subscription error', {
      error,
      code: (error as { code?: unknown }).code,
    });
    puller.lose();
  });
  subscription.on('close', () => puller.onClose());
  // With the client library, the first 'message' listener opens the stream.
  subscription.on('message', (message) => puller.onMessage(message));
  if (!subscription.isOpen) subscription.open();
  return puller;
}
