import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { setTimeout as sleep } from 'node:timers/promises';
import { DEFAULT_PORTS, SERVICES, serviceMain, type ServiceName } from './services.js';

export interface SupervisorOptions {
  env: NodeJS.ProcessEnv;
  /** Per-service (and per-replica, from 0) extra environment: ports, options. */
  envFor?: (service: ServiceName, replica: number) => NodeJS.ProcessEnv;
  services?: readonly ServiceName[];
  /** Processes per service (replicas of a stage share its durable consumer); default 1 each. */
  replicas?: Partial<Record<ServiceName, number>>;
  write?: (line: string) => void;
}

interface Child {
  service: ServiceName;
  process: ChildProcess;
  exited: Promise<number | null>;
}

/** How long to wait before restarting a service that crashed for the n-th time in a row. */
export function restartDelayMs(crashes: number): number {
  return Math.min(30_000, 500 * 2 ** Math.max(0, crashes - 1));
}

/**
 * The default health/metrics port of a replica when several share one machine: replica 0 on the
 * service's port (8081–8085), replica r ten ports further per replica (8091, 8101, ...).
 */
export function replicaPort(service: ServiceName, replica: number): number {
  return DEFAULT_PORTS[service] + 10 * replica;
}

/** A replica's name in logs and in `onpush status`: `resolver`, `resolver-1`, `resolver-2`, ... */
export function replicaName(service: ServiceName, replica: number): string {
  return replica === 0 ? service : `${service}-${replica}`;
}

/**
 * Runs the services as separate processes — `replicas` of each, listening on loopback unless
 * `env` sets BIND_ADDRESS — with prefixed output, restarts
 * one that crashes (with a growing delay), and stops them all with SIGTERM on `stop()`.
 */
export class Supervisor {
  private readonly children = new Map<string, Child>();
  private readonly restartCounts = new Map<ServiceName, number>();
  private stopping = false;
  private readonly options: SupervisorOptions;
  private readonly write: (line: string) => void;

  constructor(options: SupervisorOptions) {
    this.options = options;
    this.write = options.write ?? ((line) => process.stdout.write(`${line}\n`));
  }

  start(): void {
    for (const service of this.services())
      for (let r = 0; r < this.replicasOf(service); r += 1) this.spawn(service, r, 0);
  }

  ports(): Record<ServiceName, number> {
    return { ...DEFAULT_PORTS };
  }

  /** How many processes `service` runs. */
  replicasOf(service: ServiceName): number {
    return Math.max(1, this.options.replicas?.[service] ?? 1);
  }

  private services(): readonly ServiceName[] {
    return this.options.services ?? SERVICES;
  }

  private spawn(service: ServiceName, replica: number, crashes: number): void {
    const env = {
      PORT: String(replicaPort(service, replica)),
      // On one machine the services answer that machine only, unless told otherwise.
      BIND_ADDRESS: '127.0.0.1',
      ...this.options.env,
      ...this.options.envFor?.(service, replica),
    };
    const child = spawn(process.execPath, [serviceMain(service)], {
      env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const name = replicaName(service, replica);
    const prefix = `[${name}]`.padEnd(14);
    for (const stream of [child.stdout, child.stderr]) {
      createInterface({ input: stream }).on('line', (line) => this.write(`${prefix} ${line}`));
    }
    const exited = new Promise<number | null>((resolve) =>
      child.once('exit', (code) => resolve(code)),
    );
    this.children.set(name, { service, process: child, exited });
    const startedAt = Date.now();
    void exited.then(async (code) => {
      if (this.stopping) return;
      const next = Date.now() - startedAt > 60_000 ? 1 : crashes + 1;
      const delay = restartDelayMs(next);
      this.write(`${prefix} exited with ${code ?? 'signal'}; restarting in ${delay} ms`);
      await sleep(delay);
      if (this.stopping) return;
      this.restartCounts.set(service, (this.restartCounts.get(service) ?? 0) + 1);
      this.spawn(service, replica, next);
    });
  }

  /** The pid of a replica's current process (it may have exited and await its restart). */
  pid(service: ServiceName, replica = 0): number | undefined {
    return this.children.get(replicaName(service, replica))?.process.pid;
  }

  /** How many times each service's processes were restarted after exiting (all replicas). */
  restarts(): Record<ServiceName, number> {
    const counts = {} as Record<ServiceName, number>;
    for (const service of this.services()) counts[service] = this.restartCounts.get(service) ?? 0;
    return counts;
  }

  /**
   * Sends `signal` to one replica of a service (SIGKILL: a crash) and resolves with its exit code
   * once that process exited; the supervisor then restarts it as after any crash.
   */
  async kill(
    service: ServiceName,
    signal: NodeJS.Signals = 'SIGKILL',
    replica = 0,
  ): Promise<number | null> {
    const child = this.children.get(replicaName(service, replica));
    if (!child) throw new Error(`${replicaName(service, replica)} is not running here`);
    child.process.kill(signal);
    return child.exited;
  }

  /**
   * SIGTERM to every process (they drain and exit 0); SIGKILL after `graceMs`. Resolves with each
   * service's exit code (null when a signal ended it; with replicas, one that was not 0).
   */
  async stop(graceMs = 15_000): Promise<Partial<Record<ServiceName, number | null>>> {
    this.stopping = true;
    const all = [...this.children.values()];
    for (const child of all) child.process.kill('SIGTERM');
    const timer = setTimeout(() => all.forEach((c) => c.process.kill('SIGKILL')), graceMs);
    const codes = await Promise.all(all.map(async (c) => [c.service, await c.exited] as const));
    clearTimeout(timer);
    // With replicas, a service's code is 0 only when every replica's was.
    const result: Partial<Record<ServiceName, number | null>> = {};
    for (const [service, code] of codes) {
      if (!(service in result) || result[service] === 0) result[service] = code;
    }
    return result;
  }
}
