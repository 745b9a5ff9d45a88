import { join } from 'node:path';
import { TOPOLOGY } from '@onpush/contracts';
import {
  connectNats,
  ensureCredentials,
  ensureTls,
  jetstreamManager,
  provision,
  type NatsConnection,
} from '@onpush/nats';
import { Link } from './link.js';
import { NatsServer } from './nats-server.js';
import { SandboxError, freePort, waitUntil, type ServerOptions } from './process.js';

export interface NatsClusterOptions extends ServerOptions {
  /** Nodes (3 in production). */
  nodes: number;
  /**
   * Route every node-to-node connection through a Link, one per direction and pair, so that
   * `cut(i)` can partition node i from the others (tests). Off: nodes route to each other directly.
   */
  partitionable?: boolean;
  /** Create the streams, consumers and buckets, replicated on every node (default). */
  provision?: boolean;
  /** Lame-duck timing (k8s: 10 s grace, 30 s duration); default 2 s grace and 30 s (nats-server's least). */
  lameDuck?: { graceSeconds: number; durationSeconds: number };
}

/** The cluster's name, as in k8s/base/nats.conf. */
export const CLUSTER_NAME = 'onpush';

/**
 * A JetStream cluster of real nats-servers on loopback: each node with its own store and route
 * port, the same identities, TLS and permissions as a single server, streams and consumers
 * replicated on every node (`onpush provision --replicas N`). Node i is server `n<i>`. Its `url`
 * lists every node, as the services' NATS_URL does in production.
 */
export class NatsCluster {
  private constructor(
    readonly nodes: readonly NatsServer[],
    readonly credentialsDir: string,
    /** `from->to` → the link node `from` routes to node `to` through (partitionable only). */
    private readonly links: ReadonlyMap<string, Link>,
    private readonly log: ServerOptions['log'],
  ) {}

  static async create(options: NatsClusterOptions): Promise<NatsCluster> {
    const credentialsDir = join(options.dir, 'credentials');
    ensureCredentials(credentialsDir);
    await ensureTls(credentialsDir);
    const count = options.nodes;
    const routePorts = await Promise.all(Array.from({ length: count }, () => freePort()));
    const links = new Map<string, Link>();
    if (options.partitionable) {
      for (let from = 0; from < count; from += 1)
        for (let to = 0; to < count; to += 1)
          if (from !== to)
            links.set(
              `${from}->${to}`,
              await Link.open({ host: '127.0.0.1', port: routePorts[to]! }),
            );
    }
    // Behind links, a node must not learn (and dial) another's real route port: what it is told
    // is a port nobody listens on, so every route between two nodes runs through their link.
    const unreachable = options.partitionable ? await freePort() : undefined;
    const routeTo = (from: number, to: number): string =>
      links.get(`${from}->${to}`)?.url ?? `nats://127.0.0.1:${routePorts[to]}`;
    const nodes = await Promise.all(
      routePorts.map((port, i) =>
        NatsServer.create({
          dir: join(options.dir, `n${i}`),
          credentialsDir,
          provision: false,
          ...(options.detached !== undefined ? { detached: options.detached } : {}),
          ...(options.log ? { log: options.log } : {}),
          cluster: {
            name: CLUSTER_NAME,
            serverName: `n${i}`,
            port,
            routes: routePorts.flatMap((_, j) => (j === i ? [] : [routeTo(i, j)])),
            ...(unreachable !== undefined ? { advertise: `127.0.0.1:${unreachable}` } : {}),
            lameDuck: options.lameDuck ?? { graceSeconds: 2, durationSeconds: 30 },
          },
        }),
      ),
    );
    const cluster = new NatsCluster(nodes, credentialsDir, links, options.log);
    try {
      await cluster.waitHealthy(60_000);
      if (options.provision ?? true) await cluster.provision();
    } catch (error) {
      await cluster.stop();
      throw error;
    }
    return cluster;
  }

  /** Every node's client URL, comma-separated (NATS_URL). */
  get url(): string {
    return this.nodes.map((n) => n.url).join(',');
  }

  get pids(): { name: string; pid: number }[] {
    return this.nodes.flatMap((n, i) => (n.pid ? [{ name: `nats-server-n${i}`, pid: n.pid }] : []));
  }

  /** A connection as the `admin` identity, to every node. */
  connect(name = 'onpush-sandbox'): Promise<NatsConnection> {
    return connectNats({ url: this.url, name, credentialsDir: this.credentialsDir });
  }

  /** Streams, consumers and buckets with a replica on every node. */
  async provision(): Promise<void> {
    const nc = await this.connect();
    try {
      const jsm = await jetstreamManager(nc);
      await waitUntil(
        'JetStream cluster provisioned',
        async () => {
          try {
            await provision(jsm, TOPOLOGY, { replicas: this.nodes.length });
            return true;
          } catch {
            return false; // no meta leader yet
          }
        },
        { timeoutMs: 60_000, intervalMs: 250 },
      );
    } finally {
      await nc.close();
    }
  }

  /** Index of the node that leads `stream` (or its durable `consumer`); undefined if none. */
  async leaderOf(stream: string, consumer?: string): Promise<number | undefined> {
    const nc = await this.connect('onpush-sandbox-leader');
    try {
      const jsm = await jetstreamManager(nc);
      const info =
        consumer === undefined
          ? await jsm.streams.info(stream)
          : await jsm.consumers.info(stream, consumer);
      const leader = info.cluster?.leader;
      const index = leader === undefined ? -1 : Number(leader.replace(/^n/, ''));
      return index >= 0 && index < this.nodes.length ? index : undefined;
    } finally {
      await nc.close();
    }
  }

  /** Every running node healthy (`/healthz`: JetStream current); `within` ms at most. */
  async waitHealthy(within: number): Promise<void> {
    let last: string[] = [];
    await waitUntil(
      'every nats-server node healthy',
      async () => {
        last = await Promise.all(this.nodes.map((n) => n.health()));
        return last.every((h) => h === 'ok');
      },
      { timeoutMs: within, intervalMs: 100 },
    ).catch((error: unknown) => {
      // say which node was not, and what its /healthz answered last
      const nodes = last.map((h, i) => `n${i}: ${h}`).join('; ');
      throw new SandboxError('timeout', `${(error as Error).message} (last /healthz: ${nodes})`);
    });
  }

  /** Per node, how many client connections named `name` it holds (its `/connz`). */
  async clientsNamed(name: string): Promise<number[]> {
    return Promise.all(
      this.nodes.map(async (n) => {
        const response = await fetch(`http://127.0.0.1:${n.monitorPort}/connz?limit=10000`);
        if (!response.ok) throw new Error(`/connz of ${n.url} answered ${response.status}`);
        const { connections = [] } = (await response.json()) as {
          connections?: { name?: string }[];
        };
        return connections.filter((c) => c.name === name).length;
      }),
    );
  }

  /** Cuts node `i` off from every other node (its client port stays open). */
  cut(i: number): void {
    this.linksOf(i).forEach((link) => link.cut());
    this.log?.(`cut nats-server n${i} off from the cluster`);
  }

  /** Joins node `i` to the others again. */
  heal(i: number): void {
    this.linksOf(i).forEach((link) => link.heal());
    this.log?.(`healed nats-server n${i}'s routes`);
  }

  private linksOf(i: number): Link[] {
    if (this.links.size === 0)
      throw new Error('this cluster was started without partitionable routes');
    return [...this.links.entries()]
      .filter(([key]) => key.startsWith(`${i}->`) || key.endsWith(`->${i}`))
      .map(([, link]) => link);
  }

  async stop(): Promise<void> {
    await Promise.all(this.nodes.map((n) => n.stop()));
    await Promise.all([...this.links.values()].map((l) => l.close()));
  }
}
