import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';

const run = promisify(execFile);

// The README tells users to run `npx onpush <command>` from the clone: the set-up must have linked
// the workspace's bin (npm links it only once cli/dist exists, after the build).
describe('the onpush command', () => {
  it('runs as `npx onpush` from the repository root', { timeout: 60_000 }, async () => {
    const { stdout } = await run('npx', ['--no-install', 'onpush', '--help'], {
      cwd: new URL('../..', import.meta.url),
    });
    expect(stdout).toMatch(/^onpush — restart every Kubernetes workload/);
    expect(stdout).toContain('onpush dlq ls');
  });

  it('refuses a --scale for `onpush start` that is no process count, naming the flag', async () => {
    const cli = new URL('../../cli/dist/main.js', import.meta.url).pathname;
    const failed = await run(process.execPath, [cli, 'start', '--scale', '0']).catch(
      (error: { code: number; stderr: string }) => error,
    );
    expect(failed).toMatchObject({ code: 2 });
    expect((failed as { stderr: string }).stderr).toContain('--scale must be a whole number');
  });
});
