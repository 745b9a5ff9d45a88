import { resolve } from 'node:path';
import { sandboxDown, sandboxUp, type Component, ALL_COMPONENTS } from '@onpush/sandbox';
import type { Output } from './output.js';

export function sandboxDir(env: NodeJS.ProcessEnv, flag?: string): string {
  return resolve(flag ?? env['ONPUSH_SANDBOX_DIR'] ?? '.onpush/sandbox');
}

export async function sandboxCommand(
  action: string | undefined,
  options: { dir: string; only?: string | undefined; natsCluster?: string | undefined },
  out: Output,
): Promise<number> {
  switch (action) {
    case 'up': {
      const components = parseComponents(options.only);
      const nodes = Number(options.natsCluster ?? '1');
      if (!Number.isInteger(nodes) || nodes < 1 || nodes > 7 || (nodes % 2 === 0 && nodes !== 1)) {
        out.error('onpush sandbox up: --nats-cluster must be 1, 3, 5 or 7 (nats-server nodes)');
        return 2;
      }
      const result = await sandboxUp({
        dir: options.dir,
        components,
        ...(nodes > 1 ? { natsCluster: { nodes } } : {}),
        log: (l) => out.info(l),
      });
      out.info(result.status === 'running' ? 'sandbox already running' : 'sandbox started');
      for (const p of result.pids) out.info(`  ${p.name.padEnd(16)} pid ${p.pid}`);
      for (const [k, v] of Object.entries(result.env)) out.info(`  ${k}=${v}`);
      out.info(`environment written to ${result.envFile}; use it with:  . ${result.envFile}`);
      out.result({
        status: result.status,
        envFile: result.envFile,
        env: result.env,
        pids: result.pids,
      });
      return 0;
    }
    case 'down': {
      const stopped = await sandboxDown(options.dir);
      out.info(
        stopped.length
          ? `stopped ${stopped.map((p) => `${p.name} (${p.pid})`).join(', ')}`
          : 'nothing running',
      );
      out.result({ stopped });
      return 0;
    }
    default:
      out.error(
        'usage: onpush sandbox up|down [--dir DIR] [--only nats,pubsub,kube] [--nats-cluster 3]',
      );
      return 2;
  }
}

function parseComponents(only: string | undefined): Component[] {
  if (!only) return [...ALL_COMPONENTS];
  const parts = only.split(',').map((s) => s.trim());
  const bad = parts.filter((p) => !(ALL_COMPONENTS as readonly string[]).includes(p));
  if (bad.length)
    throw new Error(`--only: unknown component ${bad.join(', ')} (nats, pubsub, kube)`);
  return parts as Component[];
}
