import { join } from 'node:path';
import { clusterName, parseFleetWaves, type FleetWaves } from '@onpush/contracts';
import { ensureCredentials, ensureTls } from '@onpush/nats';
import { KubeApiServer } from './kube-apiserver.js';
import { Link } from './link.js';
import { NatsServer } from './nats-server.js';
import { freePort, type ServerOptions } from './process.js';

export interface FleetOptions extends ServerOptions {
  /** The clusters' names (each a DNS label): each gets a leaf nats-server and an API server. */
  clusters: readonly string[];
  /** Start a kube-apiserver + etcd per cluster (default true). */
  kube?: boolean;
  /** Route each cluster's leaf-node link through a Link the caller may cut (`cut(name)`). */
  partitionable?: boolean;
  /** FLEET_WAVES (`staging=1,prod-*=2`): later waves copy only what the hub's gates let through. */
  waves?: string | undefined;
}

/** One cluster of a fleet: its own nats-server (a leaf of the hub's) and its own API server. */
export interface FleetCluster {
  readonly name: string;
  readonly nats: NatsServer;
  readonly kube: KubeApiServer | undefined;
  /** Its leaf-node link to the hub, when the fleet is partitionable. */
  readonly link: Link | undefined;
}

/**
 * A fleet on loopback: the hub's nats-server (JetStream domain `hub`, a leaf-node listener) and,
 * per cluster, a nats-server that joins the hub as a leaf node (its own domain, the cluster's
 * name) and a kube-apiserver with its own etcd. All servers share one credentials directory (the
 * services' identities, TLS, the leaf identity), as a fleet's installs share one `onpush
 * credentials`. Each side is provisioned for its role (fleetTopology).
 */
export class Fleet {
  private constructor(
    readonly hub: NatsServer,
    readonly clusters: ReadonlyMap<string, FleetCluster>,
    readonly credentialsDir: string,
  ) {}

  static async create(options: FleetOptions): Promise<Fleet> {
    const names = options.clusters.map(clusterName);
    if (new Set(names).size !== names.length || names.length === 0)
      throw new Error(`a fleet needs distinct cluster names, got ${names.join(', ')}`);
    const waves: { waves?: FleetWaves } =
      options.waves === undefined ? {} : { waves: parseFleetWaves(options.waves) };
    const credentialsDir = join(options.dir, 'credentials');
    ensureCredentials(credentialsDir);
    await ensureTls(credentialsDir);
    const common = {
      credentialsDir,
      ...(options.detached ? { detached: true } : {}),
      ...(options.log ? { log: options.log } : {}),
    };
    const leafPort = await freePort();
    const hub = await NatsServer.create({
      ...common,
      dir: join(options.dir, 'hub'),
      fleet: { role: { role: 'hub', clusters: names, ...waves }, leafPort },
      provision: false,
    });
    // The hub's streams first without what they copy from the clusters, and those sources once
    // the clusters are there: a source whose domain does not answer yet is retried by JetStream
    // only after a growing back-off.
    await hub.provision({ role: 'hub', clusters: [], ...waves });
    const started: FleetCluster[] = [];
    try {
      const members = await Promise.allSettled(
        names.map(async (name): Promise<FleetCluster> => {
          const link = options.partitionable
            ? await Link.open({ host: '127.0.0.1', port: leafPort })
            : undefined;
          const [nats, kube] = await Promise.all([
            NatsServer.create({
              ...common,
              dir: join(options.dir, name, 'nats'),
              fleet: {
                role: { role: 'cluster', cluster: name, ...waves },
                hubLeafUrl: `nats-leaf://127.0.0.1:${link?.port ?? leafPort}`,
              },
            }),
            (options.kube ?? true)
              ? KubeApiServer.create({ ...common, dir: join(options.dir, name, 'kube') })
              : undefined,
          ]);
          const member = { name, nats, kube, link };
          started.push(member);
          return member;
        }),
      );
      const failed = members.find((m): m is PromiseRejectedResult => m.status === 'rejected');
      if (failed) throw failed.reason;
      await hub.provision();
    } catch (error) {
      await Promise.all([hub.stop(), ...started.map(stopCluster)]);
      throw error;
    }
    const byName = new Map(names.map((n) => [n, started.find((c) => c.name === n)!]));
    return new Fleet(hub, byName, credentialsDir);
  }

  /** The cluster named `name`, or a clear error. */
  cluster(name: string): FleetCluster {
    const found = this.clusters.get(name);
    if (!found) throw new Error(`this fleet has no cluster ${name}`);
    return found;
  }

  /** Cuts cluster `name` off the hub (its leaf-node link; partitionable fleets only). */
  cut(name: string): void {
    this.linkOf(name).cut();
  }

  /** Lets cluster `name` reach the hub again; its nats-server reconnects within a second. */
  heal(name: string): void {
    this.linkOf(name).heal();
  }

  private linkOf(name: string): Link {
    const link = this.cluster(name).link;
    if (!link) throw new Error('this fleet was started without partitionable links');
    return link;
  }

  get pids(): { name: string; pid: number }[] {
    const pids: { name: string; pid: number }[] = [];
    const add = (name: string, pid: number | undefined) => pid && pids.push({ name, pid });
    add('nats-server (hub)', this.hub.pid);
    for (const c of this.clusters.values()) {
      add(`nats-server (${c.name})`, c.nats.pid);
      if (c.kube) {
        add(`kube-apiserver (${c.name})`, c.kube.pids.apiserver);
        add(`etcd (${c.name})`, c.kube.pids.etcd);
      }
    }
    return pids;
  }

  async stop(): Promise<void> {
    await Promise.all([this.hub.stop(), ...[...this.clusters.values()].map(stopCluster)]);
  }
}

async function stopCluster(cluster: FleetCluster): Promise<void> {
  await Promise.all([cluster.nats.stop(), cluster.kube?.stop(), cluster.link?.close()]);
}
