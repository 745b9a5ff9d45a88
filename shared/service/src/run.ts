import { createActor, fromCallback, fromPromise, toPromise } from 'xstate';
import { startTracing, type Logger, type Metrics } from '@onpush/telemetry';
import { startHttp, type HttpTimeouts, type Route } from './http.js';
import { lifecycleMachine, type LifecycleEvent } from './lifecycle-machine.js';

/** What a service supplies to the lifecycle machine. */
export interface ServiceEffects {
  connect(): Promise<void>;
  /** Starts the work; reports lost/returned dependencies; returns a cleanup. */
  run(report: (event: LifecycleEvent) => void): () => void;
  drain(): Promise<void>;
}

export interface RunOptions {
  name: string;
  port: number;
  log: Logger;
  metrics: Metrics;
  effects: ServiceEffects;
  routes?: Route[];
  /** Extra readiness condition (the resolver's index), on top of "running". */
  ready?: () => boolean;
  /** HTTP server timeouts (ingest's webhooks); Node's defaults otherwise. */
  httpTimeouts?: HttpTimeouts;
}

/**
 * Runs a service until SIGTERM/SIGINT: HTTP (/healthz, /readyz, /metrics and routes) plus the
 * lifecycle machine. Resolves once it stopped, after draining in-flight work.
 */
export async function runService(options: RunOptions): Promise<void> {
  const { log, effects } = options;
  const tracing = await startTracing(options.name, { log });
  const machine = lifecycleMachine.provide({
    actors: {
      connect: fromPromise(() => effects.connect()),
      run: fromCallback<LifecycleEvent>(({ sendBack }) => effects.run((event) => sendBack(event))),
      drain: fromPromise(() => effects.drain()),
    },
  });
  const actor = createActor(machine);
  let last = '';
  actor.subscribe((snapshot) => {
    const state = JSON.stringify(snapshot.value);
    if (state === last) return;
    last = state;
    const running = snapshot.matches({ active: 'running' });
    options.metrics.ready.set(running ? 1 : 0);
    log.info(`state ${state.replaceAll('"', '')}`, {
      ...(snapshot.context.lastError ? { lastError: snapshot.context.lastError } : {}),
      ...(snapshot.context.lost.length ? { lost: snapshot.context.lost } : {}),
    });
  });
  const server = await startHttp({
    port: options.port,
    registry: options.metrics.registry,
    live: () => actor.getSnapshot().status === 'active',
    ready: () => {
      const snapshot = actor.getSnapshot();
      const running = snapshot.matches({ active: 'running' }) && (options.ready?.() ?? true);
      return { ready: running, detail: { state: snapshot.value } };
    },
    routes: options.routes ?? [],
    onError: (error) => log.error('http handler failed', { error }),
    ...(options.httpTimeouts ? { timeouts: options.httpTimeouts } : {}),
  });
  const stop = (signal: string): void => {
    log.info(`${signal}: draining`);
    actor.send({ type: 'STOP' });
  };
  process.once('SIGTERM', () => stop('SIGTERM'));
  process.once('SIGINT', () => stop('SIGINT'));
  actor.start();
  await toPromise(actor);
  await new Promise<void>((resolve) => server.close(() => resolve()));
  await tracing.shutdown();
  log.info('stopped');
}
