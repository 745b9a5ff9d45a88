// `onpush console`: the web console on this machine, against NATS_URL as the identity the CLI
// connects with (admin), the same routes the dlq-manager serves. Its API asks for a bearer token
// too: --token-file, ONPUSH_CONSOLE_TOKEN, or one made now and printed. The workload view also
// reads the workload from the current kube context, when there is one.
import { randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import type { Server } from 'node:http';
import { loadConfig } from '@onpush/config';
import {
  consoleSchema,
  consoleRoutes,
  gatherStatus,
  serviceUrls,
  startPushFeed,
  type WorkloadReader,
} from '@onpush/console';
import { openDlqStore } from '@onpush/dlq';
import { KINDS, kubeHttp, loadKubeConfig, objectPath, viewOf } from '@onpush/kube';
import { connectNats, jetstream } from '@onpush/nats';
import { adminGuard, guardedRoute, MIN_TOKEN_LENGTH, startHttp, type Route } from '@onpush/service';
import type { Output } from './output.js';

export const CONSOLE_USAGE = `usage:
  onpush console [--port 8090] [--host 127.0.0.1] [--token-file FILE]
the web console at http://127.0.0.1:8090/console: live pushes and their fates, workloads, dead
letters, health. Its API wants a bearer token: from --token-file, else ONPUSH_CONSOLE_TOKEN, else
one made now and printed. NATS_URL selects the server; the workload view reads the current kube
context. CONSOLE_TRACE_URL (e.g. http://127.0.0.1:16686/trace/{traceId}) links each push to its trace.`;

export interface ConsoleCommandOptions {
  natsUrl: string;
  port?: string | undefined;
  host?: string | undefined;
  tokenFile?: string | undefined;
}

/** The token the console's API asks for; `made` when none was given. */
export async function consoleToken(
  tokenFile: string | undefined,
  env: NodeJS.ProcessEnv,
): Promise<{ token: string; made: boolean }> {
  const given =
    tokenFile !== undefined
      ? (await readFile(tokenFile, 'utf8')).trim()
      : env['ONPUSH_CONSOLE_TOKEN']?.trim();
  if (given === undefined || given === '') {
    return { token: randomBytes(24).toString('base64url'), made: true };
  }
  if (given.length < MIN_TOKEN_LENGTH) {
    throw new Error(`the console's token must be at least ${MIN_TOKEN_LENGTH} characters`);
  }
  return { token: given, made: false };
}

/** Reads a workload from the current kube context; undefined without one. */
async function kubeReader(): Promise<WorkloadReader | undefined> {
  try {
    const http = await kubeHttp(loadKubeConfig(), 4);
    return async (ref) => {
      const spec = KINDS[ref.kind];
      const object = await http
        .get<unknown>(objectPath(spec, ref.namespace, ref.name))
        .catch((error: unknown) => {
          if ((error as { status?: number }).status === 404) return undefined;
          throw error;
        });
      if (object === undefined) return undefined;
      const view = viewOf(spec, object.data);
      return {
        labels: { ...view.labels },
        settings: { ...view.settings },
        marks: { ...view.marks },
        containers: view.containers.map((c) => ({ name: c.name, image: c.image })),
      };
    };
  } catch {
    return undefined;
  }
}

function listen(routes: Route[], port: number, host: string, out: Output): Promise<Server> {
  return startHttp({
    port,
    host,
    routes,
    onError: (error) => out.error(`onpush console: ${String(error)}`),
  });
}

export async function consoleCommand(
  options: ConsoleCommandOptions,
  env: NodeJS.ProcessEnv,
  out: Output,
): Promise<number> {
  const config = loadConfig(consoleSchema, env);
  const port = Number(options.port ?? '8090');
  if (!Number.isInteger(port) || port < 0 || port > 65_535) {
    out.error('onpush console: --port must be a port number');
    return 2;
  }
  const host = options.host ?? '127.0.0.1';
  const { token, made } = await consoleToken(options.tokenFile, env);
  const nc = await connectNats({ url: options.natsUrl, name: 'onpush-console' });
  const js = jetstream(nc);
  const store = await openDlqStore(nc);
  const feed = await startPushFeed(js, {
    history: config.CONSOLE_HISTORY,
    keep: config.CONSOLE_PUSHES,
  });
  const workload = await kubeReader();
  const urls = serviceUrls(env);
  const routes = consoleRoutes({
    feed: () => feed,
    store: () => store,
    status: () => gatherStatus({ natsUrl: options.natsUrl, nc, urls }),
    traceUrl: config.CONSOLE_TRACE_URL,
    workload,
    workloadNote: 'no kube context here (KUBECONFIG, ~/.kube/config)',
  });
  const guard = adminGuard({ token });
  const server = await listen([...routes.shell, guardedRoute(guard, routes.api)], port, host, out);
  const address = server.address();
  const bound = typeof address === 'object' && address !== null ? address.port : port;
  const shown = host === '0.0.0.0' || host === '::' ? '127.0.0.1' : host;
  out.info(`onpush console: http://${shown}:${bound}/console/`);
  if (made) out.info(`token (paste it when the page asks; a new one each start): ${token}`);
  else out.info('token: the one given (--token-file or ONPUSH_CONSOLE_TOKEN)');
  out.result({ url: `http://${shown}:${bound}/console/`, ...(made ? { token } : {}) });
  await new Promise<void>((resolve) => {
    process.once('SIGINT', resolve);
    process.once('SIGTERM', resolve);
  });
  await feed.stop();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  await nc.close();
  return 0;
}
