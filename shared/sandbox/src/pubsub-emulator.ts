import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import {
  freePort,
  ManagedProcess,
  portOpen,
  waitUntil,
  type Log,
  type ServerOptions,
} from './process.js';
import { builtBy } from './paths.js';

export type PubsubEmulatorOptions = ServerOptions;

interface EmulatorCommand {
  kind: 'cloud-sdk' | 'pstest';
  command: string;
  args: (port: number) => string[];
}

const EMULATOR_IN_SDK = 'platform/pubsub-emulator/bin/cloud-pubsub-emulator';

function cloudSdkRoots(env: NodeJS.ProcessEnv): string[] {
  const roots = [
    env['CLOUDSDK_ROOT_DIR'],
    '/usr/lib/google-cloud-sdk',
    '/usr/share/google-cloud-sdk',
  ];
  roots.push(join(homedir(), 'google-cloud-sdk'), '/opt/google-cloud-sdk');
  try {
    const root = execFileSync('gcloud', ['info', '--format=value(installation.sdk_root)'], {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'ignore'],
      timeout: 20_000,
    }).trim();
    if (root) roots.unshift(root);
  } catch {
    /* no gcloud on PATH */
  }
  return roots.filter((r): r is string => Boolean(r));
}

/**
 * The Cloud SDK's emulator (Java) where it is installed (PUBSUB_EMULATOR_BIN overrides);
 * otherwise a small server over Google's Go module cloud.google.com/go/pubsub/pstest,
 * built once into the per-user cache.
 */
export function findPubsubEmulator(env: NodeJS.ProcessEnv = process.env): EmulatorCommand {
  const explicit = env['PUBSUB_EMULATOR_BIN'];
  const sdk =
    explicit ??
    cloudSdkRoots(env)
      .map((r) => join(r, EMULATOR_IN_SDK))
      .find((p) => existsSync(p));
  if (sdk) {
    return {
      kind: 'cloud-sdk',
      command: sdk,
      args: (port) => ['--host=127.0.0.1', `--port=${port}`],
    };
  }
  const binary = builtBy(
    'build-pubsub-emulator.sh',
    'no Pub/Sub emulator: install the Cloud SDK emulator (google-cloud-cli-pubsub-emulator, needs Java) or Go to build pstest',
  );
  return { kind: 'pstest', command: binary, args: (port) => [`-port=${port}`] };
}

/** A real Google Pub/Sub emulator on a free loopback port, reached through PUBSUB_EMULATOR_HOST. */
export class PubsubEmulator {
  readonly port: number;
  readonly kind: EmulatorCommand['kind'];
  private readonly process: ManagedProcess;
  private readonly log: Log | undefined;

  private constructor(
    port: number,
    kind: EmulatorCommand['kind'],
    proc: ManagedProcess,
    log?: Log,
  ) {
    this.port = port;
    this.kind = kind;
    this.process = proc;
    this.log = log;
  }

  static async create(options: PubsubEmulatorOptions): Promise<PubsubEmulator> {
    const emulator = findPubsubEmulator();
    const port = await freePort();
    const proc = ManagedProcess.start({
      name: 'pubsub-emulator',
      command: emulator.command,
      args: emulator.args(port),
      logFile: join(options.dir, 'pubsub-emulator.log'),
      detached: options.detached ?? false,
    });
    await waitUntil('pubsub-emulator', () => portOpen(port), {
      alive: () => proc.running,
      timeoutMs: 90_000,
    });
    options.log?.(
      `started pubsub-emulator (${emulator.kind}) pid ${proc.pid} on 127.0.0.1:${port}`,
    );
    return new PubsubEmulator(port, emulator.kind, proc, options.log);
  }

  get host(): string {
    return `127.0.0.1:${this.port}`;
  }

  get pid(): number {
    return this.process.pid;
  }

  async stop(): Promise<void> {
    await this.process.stop();
    this.log?.(`stopped pubsub-emulator pid ${this.process.pid}`);
  }
}
