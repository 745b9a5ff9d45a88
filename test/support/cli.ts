import { execFile } from 'node:child_process';
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
