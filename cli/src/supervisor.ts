import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { setTimeout as sleep } from 'node:timers/promises';
import { DEFAULT_PORTS, SERVICES, serviceMain, type ServiceName } from './services.js';

export interface SupervisorOptions {
  env: NodeJS.ProcessEnv;
  /** Per-service extra environment (ports, options). */
  envFor?: (service: ServiceName) => NodeJS.ProcessEnv;
  services?: readonly ServiceName[];
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
 * Runs the services as separate processes with prefixed output, restarts one that crashes
 * (with a growing delay), and stops them all with SIGTERM on `stop()`.
 */
export class Supervisor {
  private readonly children = new Map<ServiceName, Child>();
  private readonly restartCounts = new Map<ServiceName, number>();
  private stopping = false;
  private readonly options: SupervisorOptions;
  private readonly write: (line: string) => void;

  constructor(options: SupervisorOptions) {
    this.options = options;
    this.write = options.write ?? ((line) => process.stdout.write(`${line}\n`));
  }

  start(): void {
    for (const service of this.options.services ?? SERVICES) this.spawn(service, 0);
  }

  ports(): Record<ServiceName, number> {
    return { ...DEFAULT_PORTS };
  }

  private spawn(service: ServiceName, crashes: number): void {
    const env = {
      PORT: String(DEFAULT_PORTS[service]),
      ...this.options.env,
      ...this.options.envFor?.(service),
    };
    const child = spawn(process.execPath, [serviceMain(service)], {
      env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const prefix = `[${service}]`.padEnd(14);
    for (const stream of [child.stdout, child.stderr]) {
      createInterface({ input: stream }).on('line', (line) => this.write(`${prefix} ${line}`));
    }
    const exited = new Promise<number | null>((resolve) =>
      child.once('exit', (code) => resolve(code)),
    );
    this.children.set(service, { service, process: child, exited });
    const startedAt = Date.now();
    void exited.then(async (code) => {
      if (this.stopping) return;
      const next = Date.now() - startedAt > 60_000 ? 1 : crashes + 1;
      const delay = restartDelayMs(next);
      this.write(`${prefix} exited with ${code ?? 'signal'}; restarting in ${delay} ms`);
      await sleep(delay);
      if (this.stopping) return;
      this.restartCounts.set(service, (this.restartCounts.get(service) ?? 0) + 1);
      this.spawn(service, next);
    });
  }

  /** The pid of a service's current process (it may have exited and await its restart). */
  pid(service: ServiceName): number | undefined {
    return this.children.get(service)?.process.pid;
  }

  /** How many times each service was restarted after its process exited. */
  restarts(): Record<ServiceName, number> {
    const counts = {} as Record<ServiceName, number>;
    for (const service of this.options.services ?? SERVICES)
      counts[service] = this.restartCounts.get(service) ?? 0;
    return counts;
  }

  /**
   * Sends `signal` to one service (SIGKILL: a crash) and resolves with its exit code once that
   * process exited; the supervisor then restarts it as after any crash.
   */
  async kill(service: ServiceName, signal: NodeJS.Signals = 'SIGKILL'): Promise<number | null> {
    const child = this.children.get(service);
    if (!child) throw new Error(`${service} is not running under this supervisor`);
    child.process.kill(signal);
    return child.exited;
  }

  /**
   * SIGTERM to every service (they drain and exit 0); SIGKILL after `graceMs`. Resolves with
   * each service's exit code (null when a signal ended it).
   */
  async stop(graceMs = 15_000): Promise<Partial<Record<ServiceName, number | null>>> {
    this.stopping = true;
    const all = [...this.children.values()];
    for (const child of all) child.process.kill('SIGTERM');
    const timer = setTimeout(() => all.forEach((c) => c.process.kill('SIGKILL')), graceMs);
    const codes = await Promise.all(all.map(async (c) => [c.service, await c.exited] as const));
    clearTimeout(timer);
    return Object.fromEntries(codes);
  }
}
