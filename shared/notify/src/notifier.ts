// Sending notifications without ever holding up the pipeline: `notify()` only queues (a bounded
// queue: when it is full the notification is dropped, counted and logged), a few workers POST,
// a failed delivery (network, timeout, 429, 5xx) is tried again after the next step of the retry
// schedule (Retry-After when the receiver sent one) without occupying a worker meanwhile, and a
// refused one (other 4xx) is given up at once. Every result is counted per target. HTTP kinds are
// POSTed with fetch (the body of their kind: formats.ts); `smtp` targets are mailed (mail.ts: an
// SMTP 4xx or a network failure is retried, a 5xx refused).
import type { Outcome } from '@onpush/contracts';
import { counter, type Counter, type Logger, type Registry } from '@onpush/telemetry';
import { NOTIFY_EVENTS, type NotifyEvent, type Target } from './config.js';
import { requestFor } from './formats.js';
import { createMailer } from './mail.js';
import { notificationOf, routeOf, type Notification, type TraceContext } from './message.js';

export type DeliveryResult = 'sent' | 'retried' | 'failed' | 'dropped';

export interface NotifierOptions {
  targets: readonly Target[];
  /** Namespace → target names. */
  routes?: Readonly<Record<string, readonly string[]>>;
  /** Target names for what nothing else routes. */
  fallback?: readonly string[];
  /** Namespace (or `*`) → target names its workloads may name besides its route and the default. */
  allowed?: Readonly<Record<string, readonly string[]>>;
  /** Which events notify at all. */
  events?: readonly NotifyEvent[];
  queueSize: number;
  /** Waits before each retry; its length is the number of retries. */
  retriesMs: readonly number[];
  timeoutMs: number;
  concurrency?: number;
  log: Logger;
  /** `onpush_notifications_total{target, result}`. */
  counter?: { inc(labels: { target: string; result: DeliveryResult }): void };
  fetch?: typeof fetch;
  /** CLUSTER_NAME in a fleet: every notification names it (text, facts, CloudEvents source). */
  cluster?: string | undefined;
}

export interface Notifier {
  /**
   * Queues the notification of `outcome`, if it is one, for its targets; `trace`: the traceparent
   * of the message that led to it (the push's trace), when known. Never blocks nor throws.
   */
  notify(outcome: Outcome, annotation?: readonly string[], trace?: TraceContext): void;
  /** Queues a notification made elsewhere (a restart waiting for approval). */
  announce(notification: Notification, annotation?: readonly string[]): void;
  /** Deliveries queued or being sent. */
  readonly pending: number;
  /** Stops retrying; waits at most `waitMs` for the deliveries in progress. */
  close(waitMs?: number): Promise<void>;
}

interface Job {
  readonly target: Target;
  readonly notification: Notification;
  readonly attempt: number;
}

export function notificationCounter(registry: Registry): Counter<'target' | 'result'> {
  return counter(
    registry,
    'onpush_notifications_total',
    'Notification deliveries, by target and result (sent, retried, failed, dropped)',
    ['target', 'result'],
  );
}

function retryAfterMs(value: string | null): number | undefined {
  if (value === null) return undefined;
  const seconds = Number(value);
  return Number.isFinite(seconds) ? Math.max(0, seconds * 1000) : undefined;
}

/** How one POST went: sent, worth another try (and when), or refused for good. */
type Attempt =
  | { readonly result: 'sent' }
  | { readonly result: 'retry'; readonly why: string; readonly afterMs?: number | undefined }
  | { readonly result: 'refused'; readonly status?: number; readonly why?: string };

/** POSTs one notification to its target (429, 5xx and network failures are worth a retry). */
async function post(
  send: typeof fetch,
  target: Target,
  notification: Notification,
  timeoutMs: number,
): Promise<Attempt> {
  if (target.kind === 'smtp') return { result: 'refused', why: 'not an HTTP target' };
  let request;
  try {
    request = requestFor(target.kind, notification);
  } catch (error) {
    // The same notification would fail the same way again: not retried.
    return { result: 'refused', why: error instanceof Error ? error.message : String(error) };
  }
  try {
    const res = await send(target.url, {
      method: 'POST',
      headers: { ...request.headers, 'user-agent': 'onpush' },
      body: request.body,
      signal: AbortSignal.timeout(timeoutMs),
    });
    await res.arrayBuffer().catch(() => undefined);
    if (res.ok) return { result: 'sent' };
    if (res.status === 429 || res.status >= 500) {
      const afterMs = retryAfterMs(res.headers.get('retry-after'));
      return { result: 'retry', why: `HTTP ${res.status}`, afterMs };
    }
    return { result: 'refused', status: res.status };
  } catch (error) {
    return { result: 'retry', why: error instanceof Error ? error.message : String(error) };
  }
}

export function createNotifier(options: NotifierOptions): Notifier {
  const { log, queueSize, retriesMs, timeoutMs, concurrency = 4 } = options;
  const send = options.fetch ?? fetch;
  const mailer = createMailer(timeoutMs);
  const byName = new Map(options.targets.map((t) => [t.name, t]));
  const events = new Set(options.events ?? NOTIFY_EVENTS);
  const queue: Job[] = [];
  const timers = new Set<NodeJS.Timeout>();
  const active = new Set<Promise<void>>();
  let closed = false;

  const count = (target: Target, result: DeliveryResult) =>
    options.counter?.inc({ target: target.name, result });

  function enqueue(job: Job): void {
    if (closed) return;
    if (queue.length >= queueSize) {
      count(job.target, 'dropped');
      log.warn('notification dropped: queue full', { target: job.target.name, queueSize });
      return;
    }
    queue.push(job);
    pump();
  }

  function pump(): void {
    while (active.size < concurrency && queue.length > 0) {
      const job = queue.shift()!;
      const task = deliver(job).finally(() => {
        active.delete(task);
        pump();
      });
      active.add(task);
    }
  }

  function retry(job: Job, why: string, afterMs?: number): void {
    const wait = retriesMs[job.attempt];
    if (wait === undefined || closed) {
      count(job.target, 'failed');
      log.warn('notification not delivered', {
        target: job.target.name,
        attempts: job.attempt + 1,
        why,
      });
      return;
    }
    count(job.target, 'retried');
    const timer = setTimeout(() => {
      timers.delete(timer);
      enqueue({ ...job, attempt: job.attempt + 1 });
    }, afterMs ?? wait);
    timer.unref();
    timers.add(timer);
  }

  async function deliver(job: Job): Promise<void> {
    const attempt: Attempt =
      job.target.kind === 'smtp'
        ? await mailer.send(job.target, job.notification)
        : await post(send, job.target, job.notification, timeoutMs);
    if (attempt.result === 'sent') return void count(job.target, 'sent');
    if (attempt.result === 'retry') return retry(job, attempt.why, attempt.afterMs);
    count(job.target, 'failed');
    log.warn('notification refused', {
      target: job.target.name,
      ...(attempt.status !== undefined ? { status: attempt.status } : {}),
      ...(attempt.why !== undefined ? { why: attempt.why } : {}),
    });
  }

  const inCluster = (n: Notification): Notification =>
    options.cluster === undefined
      ? n
      : { ...n, cluster: options.cluster, text: `[${options.cluster}] ${n.text}` };

  function announce(given: Notification, annotation?: readonly string[]): void {
    if (!events.has(given.event)) return;
    const notification = inCluster(given);
    const { targets: names, refused } = routeOf(
      notification,
      annotation,
      options.routes ?? {},
      options.fallback ?? [],
      options.allowed ?? {},
    );
    for (const name of refused) {
      log.warn('notification target not allowed for the namespace: onpush.dev/notify ignored', {
        target: name,
        namespace: notification.namespace,
        workload: (notification.outcome?.workload ?? notification.approval?.workload)?.name,
      });
    }
    for (const name of names) {
      const target = byName.get(name);
      if (target) enqueue({ target, notification, attempt: 0 });
      else log.warn('notification target not configured', { target: name });
    }
  }

  return {
    notify(outcome, annotation, trace) {
      const notification = notificationOf(outcome, trace);
      if (notification !== undefined) announce(notification, annotation);
    },
    announce,
    get pending() {
      return queue.length + active.size + timers.size;
    },
    async close(waitMs = 5_000) {
      closed = true;
      for (const timer of timers) clearTimeout(timer);
      timers.clear();
      queue.length = 0;
      const bounded = new Promise<void>((resolve) => setTimeout(resolve, waitMs).unref());
      await Promise.race([Promise.allSettled([...active]), bounded]);
      mailer.close();
    },
  };
}
