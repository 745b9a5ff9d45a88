import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const cliMain = fileURLToPath(new URL('../../cli/dist/main.js', import.meta.url));

/**
 * The onpush CLI as a user runs it, against `natsUrl` (signing in as admin with the test's
 * NATS_CREDENTIALS_DIR): its stdout. It rejects with stderr when the command exits non-zero,
 * unless `anyExit` (e.g. `onpush status` with services it cannot reach).
 */
export function onpushCli(natsUrl: () => string) {
  return (args: string[], anyExit = false): Promise<string> =>
    new Promise((resolve, reject) => {
      execFile(
        process.execPath,
        [cliMain, ...args],
        { env: { ...process.env, NATS_URL: natsUrl() } },
        (error, stdout, stderr) => {
          if (error && !anyExit)
            reject(new Error(`onpush ${args.join(' ')}: ${stderr || error.message}`));
          else resolve(stdout);
        },
      );
    });
}

/** `onpush console` as a user starts it; resolves with the process once it printed its URL. */
export function onpushConsole(env: NodeJS.ProcessEnv, port: number): Promise<ChildProcess> {
  const child = spawn(process.execPath, [cliMain, 'console', '--port', String(port)], {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`onpush console: no URL\n${output}`)), 30_000);
    const seen = (chunk: Buffer) => {
      output += chunk.toString();
      if (!output.includes('/console/')) return;
      clearTimeout(timer);
      resolve(child);
    };
    child.stdout.on('data', seen);
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.once('exit', (code) => reject(new Error(`onpush console exited ${code}\n${output}`)));
  });
}
