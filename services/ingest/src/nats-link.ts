import { setTimeout as sleep } from 'node:timers/promises';
import { reconnectDelayMs, type LifecycleEvent } from '@onpush/service';
import type { Logger } from '@onpush/telemetry';

/** What the link needs of the connection's status stream (`nc.status()`). */
export type Statuses = AsyncIterable<{ readonly type: string }>;

export interface NatsLinkOptions {
  /** Provisions the topology on the server reached now (idempotent). */
  provision: () => Promise<void>;
  log: Logger;
  /** Wait before provisioning again after attempt `n` failed. */
  retryDelayMs?: (attempt: number) => number;
}

/**
 * Whether ingest can store a delivery now: connected to NATS, with the topology provisioned on
 * the server it reached. The publish gate and /readyz both read `usable`, so a POST is answered
 * 503 for lack of NATS exactly while /readyz says 503, and stored as soon as it says 200.
 *
 * - `up()` once connect provisioned;
 * - a disconnect: unusable at once — publishes fail at once rather than after their timeout;
 * - a reconnect: usable again once provisioning succeeded on that connection (a broker back
 *   without its streams gets them first), retried with a growing delay (250 ms to 10 s).
 *
 * Lost and back are reported to the lifecycle (`degraded` / `running`) at the same moments.
 */
export class NatsLink {
  private state: 'down' | 'provisioning' | 'up' = 'down';
  /** Bumped on every disconnect, reconnect and stop: a provisioning of an older one is moot. */
  private generation = 0;
  private report: (event: LifecycleEvent) => void = () => undefined;

  constructor(private readonly options: NatsLinkOptions) {}

  get usable(): boolean {
    return this.state === 'up';
  }

  /** Why a publish is refused now, for its error. */
  get why(): string {
    return this.state === 'provisioning'
      ? 'reconnected to NATS; checking the streams are there'
      : 'not connected to NATS';
  }

  /** The connection is established and provisioned. */
  up(): void {
    this.state = 'up';
  }

  /** Follows the connection's status until it ends, reporting lost and back. */
  async follow(statuses: Statuses, report: (event: LifecycleEvent) => void): Promise<void> {
    this.report = report;
    for await (const status of statuses) {
      if (status.type === 'disconnect') this.lost();
      else if (status.type === 'reconnect') void this.reprovision();
    }
  }

  /** Stops provisioning (drain); the link stays as it is. */
  stop(): void {
    this.generation += 1;
  }

  private lost(): void {
    this.generation += 1;
    this.state = 'down';
    this.report({ type: 'DEPENDENCY_LOST', dependency: 'nats' });
  }

  private async reprovision(): Promise<void> {
    const generation = ++this.generation;
    this.state = 'provisioning';
    for (let attempt = 1; generation === this.generation; attempt += 1) {
      try {
        await this.options.provision();
      } catch (error) {
        if (generation !== this.generation) return;
        const wait = (this.options.retryDelayMs ?? reconnectDelayMs)(attempt);
        this.options.log.warn('provisioning after reconnect failed; retrying', {
          attempt,
          inMs: wait,
          error,
        });
        await sleep(wait, undefined, { ref: false });
        continue;
      }
      if (generation !== this.generation) return;
      this.state = 'up';
      this.report({ type: 'DEPENDENCY_BACK', dependency: 'nats' });
      return;
    }
  }
}
