import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import {
  AUTH_CONF,
  SERVER_CERT_FILE,
  SERVER_KEY_FILE,
  connectNats,
  CA_FILE,
  ensureCredentials,
  ensureLeafCredentials,
  ensureTls,
  jetstreamManager,
  provision,
} from '@onpush/nats';
import {
  HUB_DOMAIN,
  LEAF_LINK,
  TOPOLOGY,
  clusterName,
  fleetTopology,
  type FleetRole,
} from '@onpush/contracts';
import { cacheDir } from './paths.js';
import {
  freePort,
  ManagedProcess,
  portOpen,
  SandboxError,
  waitUntil,
  type ServerOptions,
} from './process.js';

export interface NatsServerOptions extends ServerOptions {
  /** Its client port (default: a free one), kept across restarts. */
  port?: number;
  /**
   * The identities it accepts: a credentials directory (`onpush credentials`), made when missing.
   * Default: `credentials` beside the store. Share one to let the same clients sign in to two servers.
   */
  credentialsDir?: string;
  /** Create the streams, consumers and buckets once started, as the `admin` identity (default). */
  provision?: boolean;
  /** A member of a JetStream cluster (NatsCluster): its name and routes. */
  cluster?: ClusterMembership;
  /** One side of a fleet (Fleet): its JetStream domain and leaf-node link; what to provision. */
  fleet?: FleetMembership;
}

/**
 * One nats-server of a fleet: the hub listens for its clusters' leaf-node connections; a cluster's
 * server connects to the hub's leaf-node port (TLS, the fleet's leaf identity). Each has its own
 * JetStream domain (the hub's `hub`, a cluster's its name).
 */
export type FleetMembership =
  | { role: FleetRole & { role: 'hub' }; leafPort: number }
  | { role: FleetRole & { role: 'cluster' }; hubLeafUrl: string };

/** How one node of a cluster is configured (the `cluster {}` block of k8s/base/nats.conf). */
export interface ClusterMembership {
  /** The cluster's name (k8s: `onpush`). */
  name: string;
  /** This node's server_name (k8s: the pod's name): what stream and consumer infos call leader. */
  serverName: string;
  /** Where it listens for routes. */
  port: number;
  /** The other nodes' route URLs, directly or through a Link the caller may cut. */
  routes: readonly string[];
  /** Route address told to the other nodes; default: its own listen address. */
  advertise?: string;
  /** Lame-duck mode (SIGUSR2): wait `graceSeconds`, then move clients away over `durationSeconds`. */
  lameDuck?: { graceSeconds: number; durationSeconds: number };
}

/**
 * The nats-server release onpush ships: the image tag in docker-compose.yml and
 * k8s/base/nats.yaml and the default of scripts/build-nats-server.sh, which builds it into the
 * cache. A manifest test keeps the four equal.
 */
export const NATS_SERVER_VERSION = 'v2.15.3';

/** Where scripts/build-nats-server.sh puts the pinned release. */
export function cachedNatsServer(env: NodeJS.ProcessEnv = process.env): string {
  return join(cacheDir(env), 'nats-server', NATS_SERVER_VERSION, 'nats-server');
}

/**
 * Finds nats-server: NATS_SERVER_BIN, then the pinned release built into the cache
 * (scripts/build-nats-server.sh, which `scripts/run.sh` runs), then PATH and the distribution's
 * package (an older broker: the fallback when Go is missing).
 */
export function findNatsServer(env: NodeJS.ProcessEnv = process.env): string {
  const candidates = [
    env['NATS_SERVER_BIN'],
    cachedNatsServer(env),
    'nats-server',
    '/usr/sbin/nats-server',
    '/usr/bin/nats-server',
  ];
  for (const bin of candidates) {
    if (!bin) continue;
    try {
      execFileSync(bin, ['--version'], { stdio: 'ignore', env });
      return bin;
    } catch {
      /* try the next */
    }
  }
  throw new SandboxError(
    'missing_binary',
    `nats-server not found: run scripts/build-nats-server.sh (needs Go; builds ${NATS_SERVER_VERSION}) or set NATS_SERVER_BIN`,
  );
}

/**
 * A real nats-server with JetStream on disk, signing clients in with onpush's NKEY identities
 * and their permissions, as every deployment does. `kill()` is a crash (SIGKILL); `start()`
 * again brings it back on the same port with the same store, as a restarted broker would.
 */
export class NatsServer {
  readonly port: number;
  readonly monitorPort: number;
  readonly storeDir: string;
  /** NATS_CREDENTIALS_DIR for its clients: a seed per identity, and the server's auth.conf. */
  readonly credentialsDir: string;
  private process: ManagedProcess | undefined;
  private readonly options: NatsServerOptions;
  private readonly bin: string;

  private constructor(options: NatsServerOptions, port: number, monitorPort: number) {
    this.options = options;
    this.port = port;
    this.monitorPort = monitorPort;
    this.storeDir = join(options.dir, 'jetstream');
    this.credentialsDir = options.credentialsDir ?? join(options.dir, 'credentials');
    this.bin = findNatsServer();
  }

  static async create(options: NatsServerOptions): Promise<NatsServer> {
    const server = new NatsServer(options, options.port ?? (await freePort()), await freePort());
    await server.start();
    // A cluster's streams copy from the hub's: made before the link is up, JetStream retries
    // them only after a growing back-off (seconds to minutes).
    if (options.fleet && 'hubLeafUrl' in options.fleet) await server.leafConnected();
    if (options.provision ?? true) await server.provision();
    return server;
  }

  /** Waits until this fleet cluster's server holds its leaf-node connection to the hub. */
  async leafConnected(timeoutMs = 30_000): Promise<void> {
    await waitUntil(
      'the leaf-node link to the hub',
      async () => {
        const res = await fetch(`http://127.0.0.1:${this.monitorPort}/leafz`);
        return res.ok && ((await res.json()) as { leafnodes?: number }).leafnodes! > 0;
      },
      { timeoutMs, alive: () => this.process?.running ?? false },
    );
  }

  /**
   * Streams, consumers and KV buckets, as `onpush provision` makes them (for a fleet member, as
   * `onpush provision --hub|--cluster` does; `role` to provision it as another side's view of it).
   */
  async provision(role: FleetRole | undefined = this.options.fleet?.role): Promise<void> {
    const nc = await connectNats({
      url: this.url,
      name: 'onpush-sandbox',
      credentialsDir: this.credentialsDir,
    });
    try {
      const fleet = role && fleetTopology(role);
      await provision(
        await jetstreamManager(nc),
        fleet?.topology ?? TOPOLOGY,
        fleet ? { only: fleet.consumers } : {},
      );
    } finally {
      await nc.close();
    }
  }

  /** The server's configuration: loopback ports, the store, TLS and onpush's identities. */
  private async writeConfig(): Promise<string> {
    ensureCredentials(this.credentialsDir);
    await ensureTls(this.credentialsDir);
    const tls = {
      cert_file: join(this.credentialsDir, SERVER_CERT_FILE),
      key_file: join(this.credentialsDir, SERVER_KEY_FILE),
      timeout: 2,
    };
    const file = join(this.options.dir, 'nats.conf');
    const fleet = this.options.fleet?.role;
    const domain = fleet
      ? `, domain: ${fleet.role === 'hub' ? HUB_DOMAIN : clusterName(fleet.cluster)}`
      : '';
    const include = relative(this.options.dir, join(this.credentialsDir, AUTH_CONF));
    writeFileSync(
      file,
      [
        `listen: "127.0.0.1:${this.port}"`,
        `http: "127.0.0.1:${this.monitorPort}"`,
        `jetstream { store_dir: ${JSON.stringify(this.storeDir)}${domain} }`,
        `tls ${JSON.stringify(tls)}`,
        `include ${JSON.stringify(include)}`,
        ...clusterLines(this.options.cluster),
        ...leafLines(this.options.fleet, this.credentialsDir, tls),
        '',
      ].join('\n'),
    );
    return file;
  }

  get url(): string {
    return `nats://127.0.0.1:${this.port}`;
  }

  get pid(): number | undefined {
    return this.process?.running ? this.process.pid : undefined;
  }

  async start(): Promise<void> {
    if (this.process?.running) return;
    mkdirSync(this.storeDir, { recursive: true });
    const proc = ManagedProcess.start({
      name: 'nats-server',
      command: this.bin,
      args: ['-c', await this.writeConfig()],
      logFile: join(this.options.dir, 'nats-server.log'),
      detached: this.options.detached ?? false,
    });
    this.process = proc;
    await waitUntil('nats-server', () => this.jetStreamReady(), { alive: () => proc.running });
    this.options.log?.(
      `started nats-server pid ${proc.pid} on ${this.url} (JetStream store ${this.storeDir})`,
    );
  }

  private async jetStreamReady(): Promise<boolean> {
    if (!(await portOpen(this.port))) return false;
    const response = await fetch(
      `http://127.0.0.1:${this.monitorPort}/healthz?js-enabled-only=true`,
    );
    return response.ok;
  }

  async stop(): Promise<void> {
    const proc = this.process;
    if (!proc) return;
    await proc.stop();
    this.options.log?.(`stopped nats-server pid ${proc.pid}`);
  }

  /**
   * Stops the node as Kubernetes stops a pod of k8s/base/nats.yaml: the preStop hook puts it in
   * lame-duck mode (`nats-server --signal ldm`, SIGUSR2) — it stops taking clients, hands its
   * JetStream leaderships over and moves its clients away over lame_duck_duration — then the
   * kubelet sends SIGTERM (which nats-server ignores while in lame-duck mode) and, after the
   * termination grace period (`graceMs`), SIGKILL. Resolves with how long the node took to exit.
   */
  async lameDuck(graceMs = 60_000): Promise<number> {
    const proc = this.process;
    if (!proc?.running) return 0;
    const started = Date.now();
    proc.signal('SIGUSR2');
    await new Promise((resolve) => setTimeout(resolve, 100));
    proc.signal('SIGTERM');
    try {
      await proc.waitForExit(graceMs);
    } catch {
      await proc.kill();
      this.options.log?.(`nats-server pid ${proc.pid} killed after the grace period`);
    }
    const took = Date.now() - started;
    this.options.log?.(`nats-server pid ${proc.pid} left in lame-duck mode after ${took} ms`);
    return took;
  }

  /**
   * True when the node is healthy as its readiness probe sees it (`/healthz`): connected, and
   * every stream and consumer it holds current with its leader.
   */
  async healthy(): Promise<boolean> {
    return (await this.health()) === 'ok';
  }

  /** What `/healthz` says: `ok`, or why not (its status and body, `down`, the fetch error). */
  async health(): Promise<string> {
    if (!this.process?.running) return 'down';
    try {
      const res = await fetch(`http://127.0.0.1:${this.monitorPort}/healthz`);
      return res.ok ? 'ok' : `${res.status} ${(await res.text()).trim().slice(0, 300)}`;
    } catch (error) {
      return `unreachable: ${(error as Error).message}`;
    }
  }

  /** kill -9: the broker crashes with whatever it had not yet synced. */
  async kill(): Promise<void> {
    const proc = this.process;
    if (!proc) return;
    await proc.kill();
    this.options.log?.(`killed nats-server pid ${proc.pid} (SIGKILL)`);
  }

  async restart(): Promise<void> {
    await this.stop();
    await this.start();
  }
}

/** The `server_name`, `cluster {}` and lame-duck lines of a cluster member's configuration. */
function clusterLines(cluster: ClusterMembership | undefined): string[] {
  if (!cluster) return [];
  const lameDuck = cluster.lameDuck
    ? [
        `lame_duck_grace_period: "${cluster.lameDuck.graceSeconds}s"`,
        `lame_duck_duration: "${cluster.lameDuck.durationSeconds}s"`,
      ]
    : [];
  return [
    `server_name: ${JSON.stringify(cluster.serverName)}`,
    ...lameDuck,
    'cluster {',
    `  name: ${JSON.stringify(cluster.name)}`,
    `  listen: "127.0.0.1:${cluster.port}"`,
    ...(cluster.advertise ? [`  advertise: ${JSON.stringify(cluster.advertise)}`] : []),
    `  routes: ${JSON.stringify(cluster.routes)}`,
    '  connect_retries: 120',
    '}',
  ];
}

/**
 * The `leafnodes {}` block of a fleet member. The hub: a TLS leaf-node listener that accepts the
 * fleet's leaf identity, and keeps each cluster's interest from the others. A cluster: one remote,
 * the hub, over TLS, letting through only what LEAF_LINK allows.
 */
function leafLines(
  fleet: FleetMembership | undefined,
  credentialsDir: string,
  tls: { cert_file: string; key_file: string; timeout: number },
): string[] {
  if (!fleet) return [];
  const leaf = ensureLeafCredentials(credentialsDir);
  if ('leafPort' in fleet)
    return [
      'leafnodes {',
      `  listen: "127.0.0.1:${fleet.leafPort}"`,
      // Clusters dial the address they were given (a load balancer, a proxy), never one gossiped.
      '  no_advertise: true',
      // One cluster's subscriptions are never propagated to the others.
      '  isolate_leafnode_interest: true',
      `  tls ${JSON.stringify(tls)}`,
      `  authorization { nkey: ${JSON.stringify(leaf.publicKey)}, timeout: 2 }`,
      '}',
    ];
  return [
    'leafnodes {',
    '  reconnect: "1s"',
    '  remotes: [{',
    `    url: ${JSON.stringify(fleet.hubLeafUrl)}`,
    `    nkey: ${JSON.stringify(leaf.seed)}`,
    `    tls { ca_file: ${JSON.stringify(join(credentialsDir, CA_FILE))} }`,
    `    deny_imports: ${JSON.stringify(LEAF_LINK.denyImports)}`,
    `    deny_exports: ${JSON.stringify(LEAF_LINK.denyExports)}`,
    '  }]',
    '}',
  ];
}
