import { resolve } from 'node:path';
import { sandboxDown, sandboxUp, type Component, ALL_COMPONENTS } from '@onpush/sandbox';
import { isClusterName, parseFleetWaves } from '@onpush/contracts';
import type { Output } from './output.js';

export function sandboxDir(env: NodeJS.ProcessEnv, flag?: string): string {
  return resolve(flag ?? env['ONPUSH_SANDBOX_DIR'] ?? '.onpush/sandbox');
}

export async function sandboxCommand(
  action: string | undefined,
  options: {
    dir: string;
    only?: string | undefined;
    natsCluster?: string | undefined;
    clusters?: string | undefined;
    /** FLEET_WAVES for the fleet (`staging=1,prod-*=2`): provisioned on both sides, in `env`. */
    fleetWaves?: string | undefined;
  },
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
      const clusters = parseClusters(options.clusters);
      if (typeof clusters === 'string') {
        out.error(`onpush sandbox up: --clusters ${clusters}`);
        return 2;
      }
      if (options.fleetWaves !== undefined) {
        const problem = wavesProblem(options.fleetWaves, clusters);
        if (problem) {
          out.error(`onpush sandbox up: --fleet-waves ${problem}`);
          return 2;
        }
      }
      if (clusters && nodes > 1) {
        out.error('onpush sandbox up: --clusters and --nats-cluster do not go together (yet)');
        return 2;
      }
      const result = await sandboxUp({
        dir: options.dir,
        components,
        ...(nodes > 1 ? { natsCluster: { nodes } } : {}),
        ...(clusters
          ? {
              fleet: {
                clusters,
                ...(options.fleetWaves === undefined ? {} : { waves: options.fleetWaves }),
              },
            }
          : {}),
        log: (l) => out.info(l),
      });
      out.info(result.status === 'running' ? 'sandbox already running' : 'sandbox started');
      for (const p of result.pids) out.info(`  ${p.name.padEnd(16)} pid ${p.pid}`);
      for (const [k, v] of Object.entries(result.env)) out.info(`  ${k}=${v}`);
      out.info(`environment written to ${result.envFile}; use it with:  . ${result.envFile}`);
      for (const name of clusters ?? [])
        out.info(`  cluster ${name}: its services' environment in ${result.envFile}.${name}`);
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
        'usage: onpush sandbox up|down [--dir DIR] [--only nats,pubsub,kube] [--nats-cluster 3] [--clusters 3|a,b,c [--fleet-waves staging=1,prod-*=2]]',
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

/**
 * `--clusters 3` (clusters `cluster-1` … `cluster-3`) or `--clusters staging,prod-a`: the fleet's
 * clusters; undefined without the flag; a string saying what is wrong otherwise.
 */
export function parseClusters(flag: string | undefined): string[] | undefined | string {
  if (flag === undefined) return undefined;
  const count = /^\d+$/.test(flag) ? Number(flag) : undefined;
  const names =
    count === undefined
      ? flag.split(',').map((s) => s.trim())
      : Array.from({ length: count }, (_, i) => `cluster-${i + 1}`);
  if (names.length < 1 || names.length > 16) return 'must name 1 to 16 clusters';
  const bad = names.find((n) => !isClusterName(n));
  if (bad !== undefined)
    return `names ${JSON.stringify(bad)}: not a cluster name (a DNS label, and not "hub")`;
  if (new Set(names).size !== names.length) return 'names a cluster twice';
  return names;
}

/** What is wrong with `--fleet-waves` for these clusters, or undefined. */
function wavesProblem(text: string, clusters: readonly string[] | undefined): string | undefined {
  if (!clusters) return 'needs --clusters';
  try {
    parseFleetWaves(text);
    return undefined;
  } catch (error) {
    return (error as Error).message;
  }
}
