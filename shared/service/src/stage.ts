import { createActor, fromPromise, toPromise } from 'xstate';
import { orExit } from '@onpush/config';
import {
  TOPOLOGY,
  type ConsumerName,
  type ConsumerSpec,
  type ConsumerStage,
} from '@onpush/contracts';
import {
  Failover,
  ackSubjectOf,
  closeGracefully,
  connectNats,
  failingOver,
  jetstream,
  ensureOwnConsumer,
  jetstreamManager,
  publisher,
  type JetStreamClient,
  type JsMsg,
  type NatsConnection,
  type Publish,
} from '@onpush/nats';
import type { Logger, Metrics } from '@onpush/telemetry';
import { LingeringAcks, withAcks } from './acks.js';
import { tuneConsumer, workingPlan, WorkingKeeper, type ConsumerTuning } from './consumer.js';
import { deadLetterFor } from './dead-letter.js';
import { fitDeadLetters } from './dead-letter-fit.js';
import type { LifecycleEvent } from './lifecycle-machine.js';
import {
  DEAD_LETTER_NOT_STORED,
  HELD,
  messageMachine,
  wasHeld,
  type Incoming,
  type Outgoing,
} from './message-machine.js';
import type { ServiceEffects } from './run.js';
import { instrumentPublish, trackConsumerLag, traceDelivery, type Handled } from './tracing.js';

/** What a stage has once connected: the connection, JetStream, and an instrumented publish. */
export interface StageContext {
  nc: NatsConnection;
  js: JetStreamClient;
  publish: Publish;
  /** Moves the connection to another server when JetStream stops answering through this one. */
  failover: Failover;
}

/** What a stage's `start` hands back: its handler, and what to close after the last message. */
export interface StageStarted {
  handle: Handle;
  /** Runs once draining handled the last message, before the connection closes. */
  close?: () => Promise<void>;
}

export interface StageOptions<T extends StageStarted = StageStarted> {
  stage: ConsumerStage;
  /** The durable consumer to bind (default: the stage's own); provisioned with `tuning`. */
  durable?: ConsumerName;
  /** Or a consumer outside the topology's (a fleet hub's wave gate), bound as declared. */
  consumer?: ConsumerSpec;
  /** CONSUMER_MAX_DELIVER / CONSUMER_BACKOFF / CONSUMER_ACK_WAIT (see `consumerTuning`). */
  tuning?: ConsumerTuning;
  natsUrl: string;
  /** NATS_CREDENTIALS_DIR: the stage signs in as its own identity (the stage's name). */
  natsCredentialsDir?: string | undefined;
  natsUser?: string | undefined;
  natsPassword?: string | undefined;
  /** CLUSTER_NAME: this stage runs in a fleet's cluster (publisher's `cluster`). */
  cluster?: string | undefined;
  maxInFlight: number;
  retryScheduleMs: readonly number[];
  log: Logger;
  metrics: Metrics;
  /**
   * The one way in: runs once connected and provisioned, before the first message, with the
   * connected context; returns the handler (decode, decide, return what to publish; throw a
   * failure that says whether it is retryable), what to close, and whatever else the service
   * wants to reach later through `Stage.started`. Runs again if a connect attempt failed.
   */
  start: (ctx: StageContext) => Promise<T> | T;
}

/** A consuming stage, as `runService` runs it; what `start` returned, once connected. */
export interface Stage<T extends StageStarted = StageStarted> extends ServiceEffects {
  readonly started: T | undefined;
  readonly context: StageContext | undefined;
}

/** A stage's handler: decode, decide, and return what to publish. */
export type Handle = (msg: Incoming) => Promise<Outgoing[]>;

export function incomingOf(m: JsMsg): Incoming {
  const headers: Record<string, string> = {};
  for (const key of m.headers?.keys() ?? []) headers[key] = m.headers?.get(key) ?? '';
  return {
    subject: m.subject,
    data: m.data,
    headers,
    seq: m.seq,
    deliveryCount: m.info.deliveryCount,
    storedAt: m.time,
  };
}

/**
 * The consumer `durable` with the operator's tuning. A tuning JetStream would refuse stops the
 * service as configOrExit does: `<name>: invalid configuration`, one line per problem, exit 78.
 */
export function consumerSpecOrExit(
  durable: ConsumerName,
  tuning: ConsumerTuning,
  name: string = durable,
): ConsumerSpec {
  return orExit(name, () => tuneConsumer(TOPOLOGY.consumers[durable], tuning));
}

/**
 * Publishes what a delivery produced and resolves once JetStream stored it all. Everything but
 * the last message (the outcome, by convention) goes at once — one round trip for a fan-out, not
 * one per message; the outcome only after them, so an outcome is never stored without what it
 * accounts for (a dead letter, the restart requests). If any is refused, the delivery is not
 * acknowledged and the stage publishes them all again, each under its Nats-Msg-Id.
 */
export async function publishAll(publish: Publish, outgoing: readonly Outgoing[]): Promise<void> {
  const send = (out: Outgoing) =>
    publish(out.subject, out.data, { msgId: out.msgId, headers: out.headers });
  await Promise.all(outgoing.slice(0, -1).map(send));
  const last = outgoing.at(-1);
  if (last) await send(last);
}

/** The stage's durable consumer, tuned. */
function consumerOf(options: StageOptions<StageStarted>): ConsumerSpec {
  if (options.consumer) return options.consumer;
  return consumerSpecOrExit(options.durable ?? options.stage, options.tuning ?? {}, options.stage);
}

/** Connects as the stage's identity, keeps its own consumer's tuning, then runs `start`. */
async function openSession<T extends StageStarted>(
  options: StageOptions<T>,
  spec: ConsumerSpec,
  acks: Pick<LingeringAcks, 'flush'>,
): Promise<{ ctx: StageContext; started: T }> {
  const nc = await connectNats({
    url: options.natsUrl,
    name: `onpush-${options.stage}`,
    credentialsDir: options.natsCredentialsDir,
    identity: options.stage,
    user: options.natsUser,
    pass: options.natsPassword,
  });
  try {
    // Its own consumer with its tuning; the streams and buckets are provisioning's.
    await ensureOwnConsumer(await jetstreamManager(nc), spec);
    const js = jetstream(nc);
    const failover = new Failover(nc, {
      onMove: (why, reAcked) =>
        options.log.warn('JetStream does not answer through this NATS server; moving to another', {
          why,
          reAcked,
        }),
    });
    const publish = instrumentPublish(
      failingOver(withAcks(publisher(js, undefined, options.cluster), acks), failover),
      options.metrics,
    );
    const ctx = { nc, js, publish, failover };
    return { ctx, started: await options.start(ctx) };
  } catch (error) {
    await nc.close();
    throw error;
  }
}

/**
 * One delivery through the per-message machine: handle, publish, then ack — or NAK with a delay,
 * or dead-letter — with `working()` while it lasts; counted, timed and logged.
 */
function deliveryRunner(
  options: StageOptions<StageStarted>,
  spec: ConsumerSpec,
  session: () => { ctx: StageContext; started: StageStarted } | undefined,
  acks: LingeringAcks<JsMsg>,
): (m: JsMsg, msg: Incoming) => Promise<Handled> {
  const raw = new WeakMap<Incoming, JsMsg>();
  // A dead letter over the server's max_payload is cut to fit rather than refused forever.
  const publish = (outgoing: readonly Outgoing[]) => {
    const { nc, publish: send } = session()!.ctx;
    return publishAll(send, fitDeadLetters(outgoing, nc.info?.max_payload));
  };
  const machine = messageMachine.provide({
    actors: {
      handle: fromPromise(({ input }) => session()!.started.handle(input.msg)),
      publish: fromPromise(({ input }) => publish(input.outgoing)),
      ack: fromPromise(({ input }) => {
        const m = raw.get(input.msg);
        if (m) acks.add(m); // sent with the next publish, or within ACK_LINGER_MS
        return Promise.resolve();
      }),
      nak: fromPromise(({ input }) => Promise.resolve(raw.get(input.msg)?.nak(input.delayMs))),
      deadLetter: fromPromise(({ input }) =>
        publish(deadLetterFor(options.stage, input.msg, input.failure, spec.stream)),
      ),
    },
  });
  // One timer sends working() for every delivery still being handled (not one per delivery).
  const keeper = new WorkingKeeper(workingPlan(spec.ackWaitMs));
  return async (m, msg) => {
    const startedAt = performance.now();
    raw.set(msg, m);
    const actor = createActor(machine, {
      input: { msg, maxDeliver: spec.maxDeliver, retryScheduleMs: options.retryScheduleMs },
    });
    const stopWorking = keeper.hold(m);
    actor.start();
    const handled = await toPromise(actor).finally(stopWorking);
    record(options, msg, handled, performance.now() - startedAt);
    return handled;
  };
}

/** Counts, times and logs one handled delivery. */
function record(
  options: StageOptions<StageStarted>,
  msg: Incoming,
  handled: Handled,
  elapsedMs: number,
): void {
  const { result, failure } = handled;
  const held = wasHeld(handled);
  options.metrics.messages.inc({ stage: options.stage, result: held ? HELD : result });
  options.metrics.handling.observe({ stage: options.stage }, elapsedMs / 1000);
  if (!failure) return;
  const fields = {
    subject: msg.subject,
    seq: msg.seq,
    attempt: msg.deliveryCount,
    error: failure.message,
    type: failure.type,
  };
  if (held) options.log.info('held', fields);
  else if (result === 'dead') options.log.warn('dead-lettered', fields);
  else if (failure.type === DEAD_LETTER_NOT_STORED)
    options.log.warn('dead letter not stored; will retry', fields);
  else options.log.info('will retry', fields);
}

type Messages = Awaited<
  ReturnType<Awaited<ReturnType<JetStreamClient['consumers']['get']>>['consume']>
>;

/**
 * Pulls from the durable consumer and runs `deliver` per message, at most `maxInFlight` at once
 * (tracked in `inFlight`). Returns the function that stops pulling.
 */
function consume(
  { js, failover }: Pick<StageContext, 'js' | 'failover'>,
  spec: ConsumerSpec,
  options: StageOptions<StageStarted>,
  deliver: (m: JsMsg, msg: Incoming) => Promise<Handled>,
  inFlight: Set<Promise<unknown>>,
): () => Promise<void> {
  let stopped = false;
  let messages: Messages | undefined;
  const loop = async (): Promise<void> => {
    const consumer = await js.consumers.get(spec.stream, spec.durable);
    messages = await consumer.consume({
      max_messages: options.maxInFlight,
      expires: PULL_EXPIRES_MS,
    });
    // Drained while binding: end the iteration below at once (close settles as it runs).
    if (stopped) void messages.close();
    void watchHeartbeats(messages, failover);
    for await (const m of messages) {
      failover.succeeded();
      const msg = incomingOf(m); // headers read once, for the span and the handler
      const task = traceDelivery(msg, spec, () => deliver(m, msg)).catch((error: unknown) =>
        options.log.error('message actor failed', { error }),
      );
      inFlight.add(task);
      void task.finally(() => inFlight.delete(task));
      while (inFlight.size >= options.maxInFlight) await Promise.race(inFlight);
    }
  };
  const running = loop().catch((error: unknown) => {
    if (!stopped) options.log.error('consume loop ended', { error });
  });
  return async () => {
    stopped = true;
    await messages?.close();
    await running;
  };
}

/**
 * A consuming stage: binds to its durable pull consumer and runs one message actor per delivery,
 * at most `maxInFlight` at once. Ack only after every downstream publish was acknowledged.
 * `start` is the one way in: it gets the connected context and returns the handler.
 */
export function defineStage<T extends StageStarted>(options: StageOptions<T>): Stage<T> {
  const spec = consumerOf(options);
  const inFlight = new Set<Promise<unknown>>();
  let session: { ctx: StageContext; started: T } | undefined;
  let stopConsuming: (() => Promise<void>) | undefined;
  trackConsumerLag(options.metrics, spec, () => session?.ctx.js);
  // Each ack sent is kept to be sent again should this server turn out to be cut off.
  const acks = new LingeringAcks<JsMsg>((m) => session?.ctx.failover.acked(ackSubjectOf(m)));
  const deliver = deliveryRunner(options, spec, () => session, acks);
  return {
    get started() {
      return session?.started;
    },
    get context() {
      return session?.ctx;
    },
    async connect() {
      session = await openSession(options, spec, acks);
    },
    run(report: (event: LifecycleEvent) => void) {
      const { ctx } = session!;
      void watchConnection(ctx.nc, report);
      stopConsuming = consume(ctx, spec, options, deliver, inFlight);
      return () => undefined;
    },
    async drain() {
      await withTimeout(stopConsuming?.(), 5_000);
      await Promise.allSettled([...inFlight]);
      acks.flush();
      await session?.started.close?.();
      if (session) await closeGracefully(session.ctx.nc);
    },
  };
}

/**
 * How long one pull request waits: the consumer's leader sends a heartbeat every half of it, so
 * a stage whose server lost the leader (a partition) notices within seconds.
 */
const PULL_EXPIRES_MS = 5_000;

/** Missed heartbeats count as JetStream not answering through this server. */
async function watchHeartbeats(messages: Messages, failover: Failover): Promise<void> {
  for await (const status of messages.status()) {
    if (status.type === 'heartbeats_missed') failover.failed(`${status.count} heartbeats missed`);
    else if (status.type === 'heartbeat') failover.succeeded();
  }
}

async function watchConnection(
  nc: NatsConnection,
  report: (event: LifecycleEvent) => void,
): Promise<void> {
  for await (const status of nc.status()) {
    if (status.type === 'disconnect') report({ type: 'DEPENDENCY_LOST', dependency: 'nats' });
    if (status.type === 'reconnect') report({ type: 'DEPENDENCY_BACK', dependency: 'nats' });
  }
}

/** Waits for `work`, at most `ms` (a broker that went away must not hold a shutdown forever). */
async function withTimeout(work: Promise<unknown> | undefined, ms: number): Promise<void> {
  if (!work) return;
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([
    work.catch(() => undefined),
    new Promise<void>((resolve) => {
      timer = setTimeout(resolve, ms);
    }),
  ]);
  clearTimeout(timer);
}
