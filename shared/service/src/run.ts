import { createActor, fromCallback, fromPromise, toPromise } from 'xstate';
import { startTracing, type Logger, type Metrics } from '@onpush/telemetry';
import type { Server } from 'node:http';
import { adminGuard, guardedRoute, logAdminMode, type AdminOptions } from './admin.js';
import { startHttp, type HttpOptions, type HttpTimeouts, type Route } from './http.js';
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
  /** The address every listener binds (BIND_ADDRESS); default `0.0.0.0`. */
  host?: string;
  /** /metrics on a port of its own; undefined: on `port`. */
  metricsPort?: number;
  log: Logger;
  metrics: Metrics;
  effects: ServiceEffects;
  routes?: Route[];
  /** An operator API behind a bearer token (shared/service/src/admin.ts), after `routes`. */
  admin?: AdminOptions;
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
  const servers = await startServers(options, {
    live: () => actor.getSnapshot().status === 'active',
    ready: () => {
      const snapshot = actor.getSnapshot();
      const running = snapshot.matches({ active: 'running' }) && (options.ready?.() ?? true);
      return { ready: running, detail: { state: snapshot.value } };
    },
  });
  const stop = (signal: string): void => {
    log.info(`${signal}: draining`);
    actor.send({ type: 'STOP' });
  };
  process.once('SIGTERM', () => stop('SIGTERM'));
  process.once('SIGINT', () => stop('SIGINT'));
  actor.start();
  await toPromise(actor);
  await Promise.all(
    servers.map((server) => new Promise<void>((resolve) => server.close(() => resolve()))),
  );
  await tracing.shutdown();
  log.info('stopped');
}

/**
 * The service's listeners: `port` with /healthz, /readyz, the routes — and /metrics and the admin
 * API unless they have ports of their own (`metricsPort`, `admin.port`).
 */
async function startServers(
  options: RunOptions,
  health: Pick<HttpOptions, 'live' | 'ready'>,
): Promise<Server[]> {
  const { admin, log, metricsPort } = options;
  const common = {
    ...(options.host !== undefined ? { host: options.host } : {}),
    onError: (error: unknown) => log.error('http handler failed', { error }),
    ...(options.httpTimeouts ? { timeouts: options.httpTimeouts } : {}),
  };
  const registry = options.metrics.registry;
  const adminRoute = admin && guardedRoute(adminGuard(admin), admin.routes, log);
  if (admin !== undefined) logAdminMode(admin, log);
  const started: Server[] = [];
  try {
    started.push(
      await startHttp({
        ...common,
        ...health,
        port: options.port,
        ...(metricsPort === undefined ? { registry } : {}),
        routes: [
          ...(options.routes ?? []),
          ...(adminRoute && admin?.port === undefined ? [...(admin.open ?? []), adminRoute] : []),
        ],
      }),
    );
    if (metricsPort !== undefined) {
      started.push(await startHttp({ ...common, port: metricsPort, registry }));
    }
    if (adminRoute !== undefined && admin?.port !== undefined) {
      const routes = [...(admin.open ?? []), adminRoute];
      started.push(await startHttp({ ...common, port: admin.port, routes }));
    }
  } catch (error) {
    for (const server of started) server.close();
    throw error;
  }
  return started;
}
