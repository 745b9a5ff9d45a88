import { spawn } from 'node:child_process';
import { closeSync, mkdirSync, openSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer, connect } from 'node:net';
import { dirname, join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

export type Log = (line: string) => void;

/** What starting any of the sandbox's servers takes. */
export interface ServerOptions {
  /** Where its log (and any state) goes. */
  dir: string;
  /** Detached servers outlive the caller (`onpush sandbox up`); attached ones are the caller's. */
  detached?: boolean;
  log?: Log;
}

/** Ports this process handed out: free when chosen, but maybe not bound yet by their user. */
const handedOut = new Set<number>();

/**
 * A free TCP port on 127.0.0.1, chosen by the kernel, and never one this process already handed
 * out: servers started in parallel (nats-server, etcd's two ports, kube-apiserver) each bind a
 * port some time after choosing it, and the kernel may offer that port again meanwhile.
 */
export async function freePort(): Promise<number> {
  for (let attempt = 0; attempt < 100; attempt += 1) {
    const port = await kernelPort();
    if (handedOut.has(port)) continue;
    handedOut.add(port);
    return port;
  }
  throw new SandboxError('no_free_port', 'no fresh free port after 100 attempts');
}

function kernelPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

export function portOpen(port: number, host = '127.0.0.1'): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ port, host });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

export function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

export class SandboxError extends Error {
  override readonly name = 'SandboxError';
  readonly type: string;
  constructor(type: string, message: string, options?: ErrorOptions) {
    super(message, options);
    this.type = type;
  }
}

/** Polls `probe` until it returns true, or fails after `timeoutMs` with `what` in the message. */
export interface WaitOptions {
  timeoutMs?: number;
  intervalMs?: number;
  /** False once the process being waited for has died: fail fast instead of timing out. */
  alive?: () => boolean;
}

export async function waitUntil(
  what: string,
  probe: () => Promise<boolean> | boolean,
  { timeoutMs = 60_000, intervalMs = 100, alive = (): boolean => true }: WaitOptions = {},
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (
      await Promise.resolve()
        .then(probe)
        .catch(() => false)
    )
      return;
    if (!alive())
      throw new SandboxError('process_exited', `${what}: the process exited while starting`);
    if (Date.now() > deadline)
      throw new SandboxError('timeout', `${what}: not ready after ${timeoutMs} ms`);
    await sleep(intervalMs);
  }
}

export interface ProcessSpec {
  /** Short name for logs: nats-server, etcd, kube-apiserver, pubsub-emulator. */
  name: string;
  command: string;
  args: string[];
  logFile: string;
  env?: NodeJS.ProcessEnv;
  /** Detached processes outlive this one (sandbox up); attached ones are tied to it (tests). */
  detached?: boolean;
}

/**
 * When ONPUSH_PID_REGISTRY names a directory, every process started is recorded there, so a
 * test run's global teardown can stop whatever a crashed test worker left behind.
 */
function recordPid(pid: number, name: string): void {
  const registry = process.env['ONPUSH_PID_REGISTRY'];
  if (!registry) return;
  try {
    mkdirSync(registry, { recursive: true });
    writeFileSync(join(registry, String(pid)), name);
  } catch {
    /* best effort: the registry is a safety net, not the stop path */
  }
}

/** Every attached process this one started, killed hard if it exits without stopping them. */
const attached = new Set<number>();
let exitHookInstalled = false;
function trackAttached(pid: number): void {
  attached.add(pid);
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.once('exit', () => {
    for (const p of attached) {
      try {
        process.kill(-p, 'SIGKILL');
      } catch {
        /* already gone */
      }
    }
  });
}

/** A child process with its output in a log file, stopped by its process group. */
export class ManagedProcess {
  readonly spec: ProcessSpec;
  readonly pid: number;
  private exited = false;
  private readonly exit: Promise<void>;

  private constructor(spec: ProcessSpec, pid: number, exit: Promise<void>) {
    this.spec = spec;
    this.pid = pid;
    this.exit = exit.then(() => {
      this.exited = true;
    });
  }

  static start(spec: ProcessSpec): ManagedProcess {
    mkdirSync(dirname(spec.logFile), { recursive: true });
    const fd = openSync(spec.logFile, 'a');
    // Always a new process group, so a stop reaches the whole tree (the emulator's JVM wrapper).
    const child = spawn(spec.command, spec.args, {
      env: spec.env ?? process.env,
      stdio: ['ignore', fd, fd],
      detached: true,
    });
    closeSync(fd);
    if (child.pid === undefined) {
      throw new SandboxError('spawn_failed', `${spec.name}: could not start ${spec.command}`);
    }
    const exit = new Promise<void>((resolve) => {
      child.once('exit', () => resolve());
      child.once('error', () => resolve());
    });
    if (spec.detached) child.unref();
    else trackAttached(child.pid);
    recordPid(child.pid, spec.name);
    return new ManagedProcess(spec, child.pid, exit);
  }

  get running(): boolean {
    return !this.exited && pidAlive(this.pid) && !isZombie(this.pid);
  }

  /** SIGTERM to the group, SIGKILL after `graceMs`; resolves once the process is gone. */
  async stop(graceMs = 10_000): Promise<void> {
    await stopPid(this.pid, graceMs, this.exit);
    attached.delete(this.pid);
  }

  /** Sends `signal` to the process (and its group). */
  signal(signal: NodeJS.Signals): void {
    signalGroup(this.pid, signal);
  }

  /** Resolves once the process has exited; rejects after `timeoutMs`. */
  async waitForExit(timeoutMs: number): Promise<void> {
    await Promise.race([
      this.exit,
      waitUntil(this.spec.name, () => !pidAlive(this.pid) || isZombie(this.pid), {
        timeoutMs,
        intervalMs: 50,
      }),
    ]);
    attached.delete(this.pid);
  }

  /** kill -9, as a crash would. */
  async kill(): Promise<void> {
    signalGroup(this.pid, 'SIGKILL');
    await Promise.race([this.exit, waitUntil(this.spec.name, () => !pidAlive(this.pid))]);
    attached.delete(this.pid);
  }
}

function signalGroup(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pid, signal);
  } catch {
    try {
      process.kill(pid, signal);
    } catch {
      /* already gone */
    }
  }
}

/** Stops a process (and its group) by pid — also one started by an earlier `sandbox up`. */
export async function stopPid(
  pid: number,
  graceMs = 10_000,
  exited?: Promise<void>,
): Promise<void> {
  signalGroup(pid, 'SIGTERM');
  const gone = (): boolean => !pidAlive(pid) || isZombie(pid);
  const done = waitUntil(`pid ${pid}`, gone, { timeoutMs: graceMs, intervalMs: 50 });
  try {
    await (exited ? Promise.race([exited, done]) : done);
  } catch {
    signalGroup(pid, 'SIGKILL');
    await waitUntil(`pid ${pid}`, gone, { timeoutMs: 5_000, intervalMs: 50 });
  }
}

function isZombie(pid: number): boolean {
  try {
    // Linux only: a zombie has exited and only waits to be reaped by its parent.
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return / Z /.test(stat);
  } catch {
    return false;
  }
}
