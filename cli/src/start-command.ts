import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { redactUrls } from '@onpush/config';
import { TOPOLOGY } from '@onpush/contracts';
import { connectNats, jetstreamManager, provision } from '@onpush/nats';
import { NatsServer } from '@onpush/sandbox';
import type { Output } from './output.js';
import { SERVICES } from './services.js';
import { Supervisor, replicaPort } from './supervisor.js';

/**
 * `onpush start [--scale N]`: the five services as supervised processes, N of each (replicas of a
 * stage share its durable consumer, as Deployments scaled out do). Without NATS_URL it runs a local
 * nats-server with JetStream under ./.onpush/nats. The services listen on 127.0.0.1 (BIND_ADDRESS
 * to change it); the dlq-manager's API wants the bearer token in ./.onpush/admin-token (made once;
 * ADMIN_TOKEN_FILE to use another). Ctrl-C (or SIGTERM) stops everything.
 */
export async function startCommand(
  env: NodeJS.ProcessEnv,
  out: Output,
  scale = 1,
): Promise<number> {
  let nats: NatsServer | undefined;
  const childEnv = { ...env };
  if (!env['NATS_URL']) {
    nats = await NatsServer.create({
      dir: resolve('.onpush', 'nats'),
      log: (l) => out.info(`onpush: ${l}`),
    });
    childEnv['NATS_URL'] = nats.url;
    childEnv['NATS_CREDENTIALS_DIR'] = nats.credentialsDir;
  } else {
    await provisionFirst(env['NATS_URL'], out);
  }
  if (!env['PUBSUB_PROJECT']) {
    // Without a project there is no subscription to pull: ingest serves its HTTP endpoints only.
    childEnv['PUBSUB_PULL'] = 'false';
    const local = !env['BIND_ADDRESS'] || isLoopbackAddress(env['BIND_ADDRESS']);
    if (
      !env['WEBHOOKS'] &&
      !env['WEBHOOKS_FILE'] &&
      !env['INSECURE_ALLOW_ANONYMOUS_PUSH'] &&
      local
    ) {
      // Nothing else to take events on a developer's machine: anonymous push, on loopback only.
      childEnv['INSECURE_ALLOW_ANONYMOUS_PUSH'] = 'true';
      out.info(
        'onpush: PUBSUB_PROJECT and WEBHOOKS are not set: ingest takes Pub/Sub push deliveries at POST /pubsub/push WITHOUT authentication, on loopback only (INSECURE_ALLOW_ANONYMOUS_PUSH)',
      );
    } else out.info('onpush: PUBSUB_PROJECT is not set: ingest takes webhook deliveries only');
  }
  if (!env['ADMIN_TOKEN_FILE']) {
    childEnv['ADMIN_TOKEN_FILE'] = adminTokenFile(defaultStateDir());
    out.info(
      `onpush: the dlq-manager's API (/dlq) wants "Authorization: Bearer <token>", the token in ${childEnv['ADMIN_TOKEN_FILE']}`,
    );
  }
  const replicas = Object.fromEntries(SERVICES.map((s) => [s, scale]));
  const supervisor = new Supervisor({ env: childEnv, replicas });
  supervisor.start();
  out.info(
    `onpush: started ${scale} × ingest, parser, resolver, restarter, dlq-manager against ${redactUrls(childEnv['NATS_URL'] ?? '')}` +
      (scale > 1
        ? ` (replica r on its service's port + 10·r, e.g. resolver ${Array.from({ length: scale }, (_, r) => replicaPort('resolver', r)).join(', ')})`
        : ''),
  );
  await new Promise<void>((done) => {
    process.once('SIGINT', () => done());
    process.once('SIGTERM', () => done());
  });
  out.info('onpush: stopping');
  await supervisor.stop();
  await nats?.stop();
  return 0;
}

/** Streams, consumers and buckets on a server of the user's: the services may not make them. */
async function provisionFirst(url: string, out: Output): Promise<void> {
  try {
    const nc = await connectNats({ url, name: 'onpush-start' });
    try {
      await provision(await jetstreamManager(nc), TOPOLOGY);
    } finally {
      await nc.close();
    }
  } catch (error) {
    out.info(
      `onpush: could not provision ${url} (${error instanceof Error ? error.message : String(error)}); the services wait until \`onpush provision\` has run`,
    );
  }
}

/** 127.0.0.0/8, ::1 or localhost. */
function isLoopbackAddress(address: string): boolean {
  return /^(?:localhost|::1|127(?:\.\d{1,3}){3})$/i.test(address);
}

export function defaultStateDir(): string {
  return resolve('.onpush');
}

/** `<dir>/admin-token`: a random token only its owner can read, made when missing. */
export function adminTokenFile(dir: string): string {
  const path = join(dir, 'admin-token');
  if (!existsSync(path)) {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    writeFileSync(path, `${randomBytes(32).toString('base64url')}\n`, { mode: 0o600, flag: 'wx' });
  }
  return path;
}
