// The dlq-manager as a process against a sandbox's nats-server, its admin API (/dlq, /approvals)
// on its own port behind the bearer token it writes to the sandbox's directory.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Supervisor } from '@onpush/cli';
import { freePort, waitUntil, type Sandbox } from '@onpush/sandbox';

export interface DlqManagerProcess {
  readonly supervisor: Supervisor;
  /** Health and metrics: `http://127.0.0.1:<PORT>`. */
  readonly plain: string;
  /** The admin API: `http://127.0.0.1:<ADMIN_PORT>`. */
  readonly api: string;
  readonly tokenFile: string;
  stop(): Promise<void>;
}

/** Starts the dlq-manager with `token` in ADMIN_TOKEN_FILE; resolves once it is ready. */
export async function startDlqManager(sandbox: Sandbox, token: string): Promise<DlqManagerProcess> {
  const tokenFile = join(sandbox.dir, 'admin-token');
  writeFileSync(tokenFile, `${token}\n`, { mode: 0o600 });
  const [port, adminPort] = [await freePort(), await freePort()];
  const plain = `http://127.0.0.1:${port}`;
  const logs: string[] = [];
  const supervisor = new Supervisor({
    env: { ...process.env, ...sandbox.env, LOG_LEVEL: 'info' },
    envFor: () => ({
      PORT: String(port),
      ADMIN_PORT: String(adminPort),
      ADMIN_TOKEN_FILE: tokenFile,
    }),
    services: ['dlq-manager'],
    write: (line) => logs.push(line),
  });
  supervisor.start();
  await waitUntil('dlq-manager ready', async () => (await fetch(`${plain}/readyz`)).ok, {
    timeoutMs: 60_000,
    intervalMs: 100,
  }).catch((error: unknown) => {
    throw new Error(`${String(error)}\n${logs.slice(-30).join('\n')}`);
  });
  return {
    supervisor,
    plain,
    api: `http://127.0.0.1:${adminPort}`,
    tokenFile,
    stop: async () => {
      await supervisor.stop();
    },
  };
}
