import { connect, type NodeConnectionOptions } from '@nats-io/transport-node';
import type { NatsConnection } from '@nats-io/nats-core';

export interface NatsOptions {
  /** One or more comma-separated `nats://` / `tls://` URLs. */
  url: string;
  /** Shown in the server's connection list, e.g. `onpush-parser`. */
  name: string;
  user?: string | undefined;
  pass?: string | undefined;
  token?: string | undefined;
}

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
  };
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
