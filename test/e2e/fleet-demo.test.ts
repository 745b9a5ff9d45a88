import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';

const run = promisify(execFile);
const cli = new URL('../../cli/dist/main.js', import.meta.url).pathname;

// What a user types to see a fleet: `onpush demo --clusters 2` (a hub and two clusters, each
// with its own kube-apiserver), then `onpush sandbox down`.
describe('onpush demo --clusters', () => {
  const dir = join(mkdtempSync(join(tmpdir(), 'onpush-fleet-demo-')), 'sandbox');

  afterAll(async () => {
    await run(process.execPath, [cli, 'sandbox', 'down', '--dir', `${dir}-fleet`]).catch(
      () => undefined,
    );
    rmSync(join(dir, '..'), { recursive: true, force: true });
  });

  it(
    'restarts the opted-in samples in every cluster from one push',
    { timeout: 240_000 },
    async () => {
      const { stdout } = await run(
        process.execPath,
        [cli, 'demo', '--clusters', 'east,west', '--dir', dir, '--json'],
        { env: { ...process.env, ONPUSH_SANDBOX_DIR: '' }, maxBuffer: 4 * 1024 * 1024 },
      ).catch((error: { stdout?: string; stderr?: string; message: string }) => {
        throw new Error(`${error.message}\n${error.stderr ?? ''}`);
      });
      const result = JSON.parse(stdout) as { restarted: Record<string, number> };
      expect(Object.keys(result.restarted).sort()).toEqual([
        'east: demo-blog/frontend',
        'east: demo-shop/web',
        'west: demo-blog/frontend',
        'west: demo-shop/web',
      ]);
      // The fleet stays up for `sandbox down`, with one env file per cluster.
      expect(readFileSync(`${dir}-fleet/env.east`, 'utf8')).toContain("CLUSTER_NAME='east'");
      const down = await run(process.execPath, [cli, 'sandbox', 'down', '--dir', `${dir}-fleet`]);
      expect(down.stdout + down.stderr).toMatch(/stopped .*kube-apiserver \(east\)/);
    },
  );
});
