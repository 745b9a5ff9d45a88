import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { connect, type NodeConnectionOptions } from '@nats-io/transport-node';
import { nkeyAuthenticator, type NatsConnection } from '@nats-io/nats-core';
import { inboxPrefix, type NatsIdentity } from '@onpush/contracts';
import { readSeed } from './credentials.js';

export interface NatsOptions {
  /** One or more comma-separated `nats://` / `tls://` URLs. */
  url: string;
  /** Shown in the server's connection list, e.g. `onpush-parser`. */
  name: string;
  /**
   * A credentials directory: the connection signs in as `identity` with the NKEY seed
   * `<identity>.nk` — re-read at every (re)connect, so a rotated seed needs no restart — and
   * verifies the server's TLS certificate with `ca.pem` when the directory has one. Unset: the
   * environment's NATS_CREDENTIALS_DIR (as the `nats` CLI reads its context), else none.
   */
  credentialsDir?: string | undefined;
  /** Who this connection is (default `admin`: the CLI and tests). */
  identity?: NatsIdentity;
  user?: string | undefined;
  pass?: string | undefined;
  token?: string | undefined;
}

/** The CA bundle a credentials directory may hold, to verify the server's certificate. */
export const CA_FILE = 'ca.pem';

/**
 * A connection that reconnects forever: a broker restart is an outage to wait out, not a crash.
 * The first connect fails fast so a wrong URL is reported at start.
 */
export async function connectNats(options: NatsOptions): Promise<NatsConnection> {
  const config: NodeConnectionOptions = {
    servers: options.url.split(',').map((s) => s.trim()),
    name: options.name,
    maxReconnectAttempts: -1,
    reconnectTimeWait: 250,
    pingInterval: 10_000,
    // Off: the client library's async traces build an Error (a stack) for every request and every
    // timer up front, in case it times out — 2–7% of a busy stage's CPU in the benchmark's
    // profiles; onpush's errors say what timed out without the caller's stack.
    noAsyncTraces: true,
  };
  const dir = options.credentialsDir ?? (process.env['NATS_CREDENTIALS_DIR'] || undefined);
  if (dir !== undefined) {
    const identity = options.identity ?? 'admin';
    readSeed(dir, identity); // fails now, naming the file, rather than at the server
    config.authenticator = nkeyAuthenticator(() => readSeed(dir, identity));
    config.inboxPrefix = inboxPrefix(identity);
    const ca = join(dir, CA_FILE);
    if (existsSync(ca)) config.tls = { caFile: ca };
  }
  if (options.user !== undefined) config.user = options.user;
  if (options.pass !== undefined) config.pass = options.pass;
  if (options.token !== undefined) config.token = options.token;
  return connect(config);
}

/**
 * Drains the connection (in-flight acks and publishes go out), bounded in time: while the
 * server is unreachable a drain never completes, and SIGTERM must still end the process.
 */
export async function closeGracefully(nc: NatsConnection, timeoutMs = 5_000): Promise<void> {
  if (nc.isClosed()) return;
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<'timeout'>((resolve) => {
    timer = setTimeout(() => resolve('timeout'), timeoutMs);
  });
  const drained = nc.drain().then(
    () => 'drained' as const,
    () => 'failed' as const,
  );
  const result = await Promise.race([drained, timeout]);
  clearTimeout(timer);
  if (result !== 'drained' && !nc.isClosed()) await nc.close().catch(() => undefined);
}
