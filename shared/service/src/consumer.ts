// A stage's durable consumer as it is provisioned: the topology's declaration with the
// operator's tuning (CONSUMER_MAX_DELIVER, CONSUMER_BACKOFF, CONSUMER_ACK_WAIT) applied, and how
// long the stage may keep one delivery to itself with `working()`. Pure functions.
import { ConfigError, type ConfigProblem } from '@onpush/config';
import type { ConsumerSpec } from '@onpush/contracts';
import type { BaseServiceConfig } from './config.js';

/** What the environment may change on a stage's consumer; unset fields keep the topology's. */
export interface ConsumerTuning {
  readonly maxDeliver?: number | undefined;
  readonly backoffMs?: readonly number[] | undefined;
  readonly ackWaitMs?: number | undefined;
}

type TuningConfig = Pick<
  BaseServiceConfig,
  'CONSUMER_MAX_DELIVER' | 'CONSUMER_BACKOFF' | 'CONSUMER_ACK_WAIT'
>;

export function consumerTuning(config: TuningConfig): ConsumerTuning {
  return {
    maxDeliver: config.CONSUMER_MAX_DELIVER,
    backoffMs: config.CONSUMER_BACKOFF,
    ackWaitMs: config.CONSUMER_ACK_WAIT,
  };
}

/** The first backoff step, replaced by the ack wait when one is given (JetStream's rule). */
function backoffOf(spec: ConsumerSpec, tuning: ConsumerTuning, problems: ConfigProblem[]) {
  const given = tuning.backoffMs;
  const ackWait = tuning.ackWaitMs;
  if (ackWait === undefined) return given ?? spec.backoffMs;
  if (given !== undefined && given[0] !== ackWait) {
    problems.push({
      variable: 'CONSUMER_ACK_WAIT',
      message: `must equal the first step of CONSUMER_BACKOFF (${given[0]}ms): JetStream waits that long for the first ack`,
    });
  }
  const steps = given ?? spec.backoffMs;
  return steps.length ? [ackWait, ...steps.slice(1)] : [];
}

/**
 * `spec` with `tuning` applied. JetStream takes the first backoff step as the ack wait and needs
 * `max_deliver` above the number of steps: a declared (default) schedule is cut to fit a smaller
 * CONSUMER_MAX_DELIVER; an explicit CONSUMER_BACKOFF that does not fit is a ConfigError.
 */
export function tuneConsumer(spec: ConsumerSpec, tuning: ConsumerTuning): ConsumerSpec {
  const problems: ConfigProblem[] = [];
  let backoffMs = backoffOf(spec, tuning, problems);
  const maxDeliver = tuning.maxDeliver ?? spec.maxDeliver;
  if (maxDeliver <= backoffMs.length) {
    if (tuning.backoffMs === undefined) {
      backoffMs = backoffMs.slice(0, Math.max(1, maxDeliver - 1));
      if (maxDeliver === 1) backoffMs = [];
    } else {
      const variable =
        tuning.maxDeliver === undefined ? 'CONSUMER_BACKOFF' : 'CONSUMER_MAX_DELIVER';
      problems.push({
        variable,
        message: `max deliver (${maxDeliver}) must exceed the number of backoff steps (${backoffMs.length})`,
      });
    }
  }
  if (problems.length) throw new ConfigError(problems);
  const ackWaitMs = backoffMs[0] ?? tuning.ackWaitMs ?? spec.ackWaitMs;
  return { ...spec, maxDeliver, backoffMs, ackWaitMs };
}

/** A stage calls `working()` this often on a delivery it is still handling. */
export const WORKING_FRACTION = 1 / 3;
/** ...but for at most this many ack waits: a hung handler must not hold a message forever. */
export const MAX_HOLD_ACK_WAITS = 10;

export interface WorkingPlan {
  /** Period of the `working()` calls: a fraction of the ack wait. */
  readonly intervalMs: number;
  /** No `working()` is sent once handling has lasted this long; the broker then redelivers. */
  readonly maxHoldMs: number;
}

export function workingPlan(ackWaitMs: number): WorkingPlan {
  return {
    intervalMs: Math.max(10, Math.floor(ackWaitMs * WORKING_FRACTION)),
    maxHoldMs: ackWaitMs * MAX_HOLD_ACK_WAITS,
  };
}

/** True when a delivery handled for `elapsedMs` may still be extended by one more period. */
export function mayExtend(elapsedMs: number, plan: WorkingPlan): boolean {
  return elapsedMs + plan.intervalMs <= plan.maxHoldMs;
}

/** What `working()` is sent to: a delivery (JetStream's `JsMsg`). */
export interface Extendable {
  working(): void;
}

/**
 * Sends `working()` for every delivery still being handled, by one timer per stage rather than
 * one per delivery: each delivery is extended once its period passed (checked every half period,
 * so at most 1.5 periods apart — half the ack wait), for at most `maxHoldMs`; then the broker
 * redelivers it, as after a crash.
 */
export class WorkingKeeper {
  private readonly held = new Map<Extendable, { started: number; due: number }>();
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly plan: WorkingPlan,
    private readonly now: () => number = () => performance.now(),
  ) {}

  /** Keeps `m` from being redelivered until the returned function is called. */
  hold(m: Extendable): () => void {
    const started = this.now();
    this.held.set(m, { started, due: started + this.plan.intervalMs });
    if (!this.timer) {
      this.timer = setInterval(() => this.sweep(), Math.max(5, this.plan.intervalMs / 2));
      this.timer.unref();
    }
    return () => this.held.delete(m);
  }

  /**
   * Extends every delivery whose period passed; lets go of those held for `maxHoldMs`. The timer
   * stops when nothing is held (the next `hold` starts it again).
   */
  sweep(): void {
    if (this.held.size === 0) return this.stop();
    const now = this.now();
    for (const [m, times] of this.held) {
      if (now < times.due) continue;
      if (!mayExtend(now - times.started, this.plan)) {
        this.held.delete(m);
        continue;
      }
      times.due = now + this.plan.intervalMs;
      try {
        m.working();
      } catch {
        // Connection closed: the broker redelivers after the ack wait, as after a crash.
      }
    }
  }

  /** Deliveries held now. */
  get size(): number {
    return this.held.size;
  }

  stop(): void {
    clearInterval(this.timer);
    this.timer = undefined;
  }
}
