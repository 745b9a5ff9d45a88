import { mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { Fleet } from './fleet.js';
import { KubeApiServer } from './kube-apiserver.js';
import { NatsCluster } from './nats-cluster.js';
import { NatsServer } from './nats-server.js';
import { pidAlive, stopPid, type Log } from './process.js';
import { PubsubEmulator } from './pubsub-emulator.js';

export type Component = 'nats' | 'pubsub' | 'kube';
export const ALL_COMPONENTS: readonly Component[] = ['nats', 'pubsub', 'kube'];

export interface SandboxOptions {
  /** State directory: stores, logs, kubeconfig, the env file. */
  dir: string;
  components?: readonly Component[];
  /** Detached processes outlive the caller (`onpush sandbox up`); attached ones are the caller's. */
  detached?: boolean;
  pubsubProject?: string;
  /** Create onpush's streams, consumers and buckets in nats-server once it is up (default). */
  provision?: boolean;
  /**
   * NATS as a JetStream cluster of `nodes` nats-servers (streams replicated on each) instead of
   * one; `partitionable` routes them through links a test can cut.
   */
  natsCluster?: { nodes: number; partitionable?: boolean } | undefined;
  /**
   * A fleet instead of one cluster (Fleet): a hub nats-server and, per named cluster, a leaf
   * nats-server and (with `kube`) its own kube-apiserver + etcd. `nats` is then the hub.
   */
  fleet?:
    | { clusters: readonly string[]; partitionable?: boolean; waves?: string | undefined }
    | undefined;
  log?: Log;
}

/** The variables a client needs, as the env file writes them. */
export interface SandboxEnv {
  NATS_URL?: string;
  /** The NKEY seeds of every identity (a service picks its own; the CLI signs in as admin). */
  NATS_CREDENTIALS_DIR?: string;
  PUBSUB_EMULATOR_HOST?: string;
  PUBSUB_PROJECT?: string;
  KUBECONFIG?: string;
  /** A fleet's cluster (its env file `env.<cluster>`): the services there say where they run. */
  CLUSTER_NAME?: string;
  /** A fleet's hub with waves: the parser's gates (FLEET_WAVES). */
  FLEET_WAVES?: string;
}

interface SandboxState {
  env: SandboxEnv;
  pids: { name: string; pid: number }[];
  /** A fleet's clusters, and the environment of each one's services. */
  clusters?: Record<string, SandboxEnv>;
}

/** The servers onpush runs against: real nats-server, Pub/Sub emulator, kube-apiserver + etcd. */
export class Sandbox {
  readonly dir: string;
  /** The one nats-server (undefined when NATS is a cluster: see `natsCluster`). */
  readonly nats: NatsServer | undefined;
  readonly natsCluster: NatsCluster | undefined;
  readonly pubsub: PubsubEmulator | undefined;
  readonly kube: KubeApiServer | undefined;
  /** The fleet (its hub is `nats`), when started with `fleet`. */
  readonly fleet: Fleet | undefined;
  readonly env: SandboxEnv;

  private constructor(
    dir: string,
    parts: Pick<Sandbox, 'nats' | 'natsCluster' | 'pubsub' | 'kube' | 'fleet' | 'env'>,
  ) {
    this.dir = dir;
    this.fleet = parts.fleet;
    this.nats = parts.nats;
    this.natsCluster = parts.natsCluster;
    this.pubsub = parts.pubsub;
    this.kube = parts.kube;
    this.env = parts.env;
  }

  /** Starts the components in parallel; if one fails, stops the others and rethrows. */
  static async start(options: SandboxOptions): Promise<Sandbox> {
    const dir = resolve(options.dir);
    mkdirSync(dir, { recursive: true });
    const want = new Set(options.components ?? ALL_COMPONENTS);
    const common = {
      detached: options.detached ?? false,
      ...(options.log ? { log: options.log } : {}),
    };
    if (options.fleet) return Sandbox.startFleet(dir, options, want, common);
    const clustered = want.has('nats') && (options.natsCluster?.nodes ?? 1) > 1;
    const started = await Promise.allSettled([
      want.has('nats') && clustered
        ? NatsCluster.create({
            dir: join(dir, 'nats'),
            ...common,
            nodes: options.natsCluster?.nodes ?? 3,
            ...(options.natsCluster?.partitionable ? { partitionable: true } : {}),
            ...(options.provision === false ? { provision: false } : {}),
          })
        : undefined,
      want.has('nats') && !clustered
        ? NatsServer.create({
            dir: join(dir, 'nats'),
            ...common,
            ...(options.provision === false ? { provision: false } : {}),
          })
        : undefined,
      want.has('pubsub')
        ? PubsubEmulator.create({ dir: join(dir, 'pubsub'), ...common })
        : undefined,
      want.has('kube') ? KubeApiServer.create({ dir: join(dir, 'kube'), ...common }) : undefined,
    ]);
    const [natsCluster, nats, pubsub, kube] = started.map((r) =>
      r.status === 'fulfilled' ? r.value : undefined,
    ) as [
      NatsCluster | undefined,
      NatsServer | undefined,
      PubsubEmulator | undefined,
      KubeApiServer | undefined,
    ];
    const bus = nats ?? natsCluster;
    const env: SandboxEnv = {
      ...(bus ? { NATS_URL: bus.url, NATS_CREDENTIALS_DIR: bus.credentialsDir } : {}),
      ...(pubsub
        ? {
            PUBSUB_EMULATOR_HOST: pubsub.host,
            PUBSUB_PROJECT: options.pubsubProject ?? 'onpush-sandbox',
          }
        : {}),
      ...(kube ? { KUBECONFIG: kube.kubeconfigPath } : {}),
    };
    const sandbox = new Sandbox(dir, { nats, natsCluster, pubsub, kube, fleet: undefined, env });
    const failure = started.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failure) {
      await sandbox.stop();
      throw failure.reason;
    }
    return sandbox;
  }

  /** A hub and its clusters (each with its own API server when `kube` is wanted), and Pub/Sub. */
  private static async startFleet(
    dir: string,
    options: SandboxOptions,
    want: ReadonlySet<Component>,
    common: { detached: boolean; log?: Log },
  ): Promise<Sandbox> {
    const started = await Promise.allSettled([
      Fleet.create({
        dir: join(dir, 'fleet'),
        ...common,
        clusters: options.fleet?.clusters ?? [],
        kube: want.has('kube'),
        ...(options.fleet?.partitionable ? { partitionable: true } : {}),
        ...(options.fleet?.waves ? { waves: options.fleet.waves } : {}),
      }),
      want.has('pubsub')
        ? PubsubEmulator.create({ dir: join(dir, 'pubsub'), ...common })
        : undefined,
    ]);
    const [fleet, pubsub] = started.map((r) =>
      r.status === 'fulfilled' ? r.value : undefined,
    ) as [Fleet | undefined, PubsubEmulator | undefined];
    const env: SandboxEnv = {
      ...(fleet ? { NATS_URL: fleet.hub.url, NATS_CREDENTIALS_DIR: fleet.credentialsDir } : {}),
      // the hub's parser gates the later waves
      ...(fleet && options.fleet?.waves ? { FLEET_WAVES: options.fleet.waves } : {}),
      ...(pubsub
        ? {
            PUBSUB_EMULATOR_HOST: pubsub.host,
            PUBSUB_PROJECT: options.pubsubProject ?? 'onpush-sandbox',
          }
        : {}),
    };
    const sandbox = new Sandbox(dir, {
      nats: fleet?.hub,
      natsCluster: undefined,
      pubsub,
      kube: undefined,
      fleet,
      env,
    });
    const failure = started.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failure) {
      await sandbox.stop();
      throw failure.reason;
    }
    return sandbox;
  }

  /** The environment of a fleet cluster's services: its nats-server, API server and name. */
  clusterEnv(name: string): SandboxEnv {
    const cluster = this.need('fleet').cluster(name);
    return {
      NATS_URL: cluster.nats.url,
      NATS_CREDENTIALS_DIR: cluster.nats.credentialsDir,
      ...(cluster.kube ? { KUBECONFIG: cluster.kube.kubeconfigPath } : {}),
      CLUSTER_NAME: name,
    };
  }

  /** The component, or a clear error when this sandbox was started without it. */
  need<K extends 'nats' | 'natsCluster' | 'pubsub' | 'kube' | 'fleet'>(
    component: K,
  ): NonNullable<Sandbox[K]> {
    const part = this[component];
    if (!part) throw new Error(`this sandbox was started without ${component}`);
    return part as NonNullable<Sandbox[K]>;
  }

  get pubsubProject(): string {
    return this.env.PUBSUB_PROJECT ?? 'onpush-sandbox';
  }

  get pids(): { name: string; pid: number }[] {
    const pids: { name: string; pid: number }[] = [];
    if (this.fleet) pids.push(...this.fleet.pids);
    else if (this.nats?.pid) pids.push({ name: 'nats-server', pid: this.nats.pid });
    if (this.natsCluster) pids.push(...this.natsCluster.pids);
    if (this.pubsub) pids.push({ name: 'pubsub-emulator', pid: this.pubsub.pid });
    if (this.kube) {
      pids.push({ name: 'kube-apiserver', pid: this.kube.pids.apiserver });
      pids.push({ name: 'etcd', pid: this.kube.pids.etcd });
    }
    return pids;
  }

  /** Stops everything this sandbox started; safe to call twice. */
  async stop(): Promise<void> {
    await Promise.all([
      this.fleet ? this.fleet.stop() : this.nats?.stop(),
      this.natsCluster?.stop(),
      this.pubsub?.stop(),
      this.kube?.stop(),
    ]);
  }
}

/** `export NAME='value'` lines a POSIX shell can source. */
export function envFileText(env: SandboxEnv): string {
  const quote = (v: string): string => `'${v.replaceAll("'", `'\\''`)}'`;
  return Object.entries(env)
    .filter((entry): entry is [string, string] => typeof entry[1] === 'string')
    .map(([k, v]) => `export ${k}=${quote(v)}\n`)
    .join('');
}

const stateFile = (dir: string): string => join(resolve(dir), 'state.json');
export const envFile = (dir: string): string => join(resolve(dir), 'env');

function readState(dir: string): SandboxState | undefined {
  try {
    return JSON.parse(readFileSync(stateFile(dir), 'utf8')) as SandboxState;
  } catch {
    return undefined;
  }
}

export type UpResult = {
  status: 'started' | 'running';
  env: SandboxEnv;
  envFile: string;
  pids: SandboxState['pids'];
  /** A fleet's clusters: the environment of each one's services (also in `<envFile>.<name>`). */
  clusters: Record<string, SandboxEnv>;
};

/**
 * `onpush sandbox up`: starts detached servers and records them; when the recorded ones still
 * run, it changes nothing (up twice is harmless). A half-alive sandbox is stopped and restarted.
 */
export async function sandboxUp(options: Omit<SandboxOptions, 'detached'>): Promise<UpResult> {
  const existing = readState(options.dir);
  if (existing && existing.pids.length > 0 && existing.pids.every((p) => pidAlive(p.pid))) {
    return {
      status: 'running',
      env: existing.env,
      envFile: envFile(options.dir),
      pids: existing.pids,
      clusters: existing.clusters ?? {},
    };
  }
  if (existing) await sandboxDown(options.dir);
  const sandbox = await Sandbox.start({ ...options, detached: true });
  const clusters = Object.fromEntries(
    [...(sandbox.fleet?.clusters.keys() ?? [])].map((name) => [name, sandbox.clusterEnv(name)]),
  );
  const state: SandboxState = { env: sandbox.env, pids: sandbox.pids, clusters };
  writeFileSync(stateFile(options.dir), `${JSON.stringify(state, null, 2)}\n`);
  writeFileSync(envFile(options.dir), envFileText(sandbox.env));
  for (const [name, env] of Object.entries(clusters))
    writeFileSync(`${envFile(options.dir)}.${name}`, envFileText(env));
  const file = envFile(options.dir);
  return { status: 'started', env: sandbox.env, envFile: file, pids: state.pids, clusters };
}

/** `onpush sandbox down`: stops every process `up` recorded; returns what it stopped. */
export async function sandboxDown(dir: string): Promise<SandboxState['pids']> {
  const state = readState(dir);
  if (!state) return [];
  const alive = state.pids.filter((p) => pidAlive(p.pid));
  // The API server first, so it does not log etcd's disappearance as an error.
  const order = ['kube-apiserver', 'nats-server', 'pubsub-emulator', 'etcd'];
  const rank = (name: string): number => order.findIndex((o) => name.startsWith(o));
  alive.sort((a, b) => rank(a.name) - rank(b.name));
  for (const p of alive) await stopPid(p.pid);
  rmSync(stateFile(dir), { force: true });
  rmSync(envFile(dir), { force: true });
  for (const file of readdirSync(resolve(dir)))
    if (file.startsWith('env.')) rmSync(join(resolve(dir), file), { force: true });
  return alive;
}
