import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pidAlive } from '@onpush/sandbox';

/**
 * Vitest global setup: gives every worker a pid registry (ONPUSH_PID_REGISTRY) and, at the end of
 * the run, stops whatever a crashed or killed worker left running, and says so.
 */
export function setupPidRegistry(): () => void {
  const registry = mkdtempSync(join(tmpdir(), 'onpush-pids-'));
  process.env['ONPUSH_PID_REGISTRY'] = registry;
  return () => {
    const leftovers: string[] = [];
    for (const file of readdirSync(registry)) {
      const pid = Number(file);
      if (!pidAlive(pid)) continue;
      leftovers.push(`${readFileSync(join(registry, file), 'utf8')} (${pid})`);
      try {
        process.kill(-pid, 'SIGKILL');
      } catch {
        /* gone meanwhile */
      }
    }
    if (leftovers.length) console.warn(`global teardown: killed leftover ${leftovers.join(', ')}`);
    rmSync(registry, { recursive: true, force: true });
  };
}
