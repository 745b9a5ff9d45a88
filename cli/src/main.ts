#!/usr/bin/env node
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { approveCommand } from './approve-command.js';
import { auditCommand } from './audit-command.js';
import { consoleCommand } from './console-command.js';
import { credentialsCommand } from './credentials-command.js';
import { demoCommand } from './demo-command.js';
import { dlqCommand } from './dlq-command.js';
import { output } from './output.js';
import { provisionCommand } from './provision-command.js';
import { isClusterName, parseFleetWaves, type FleetRole, type FleetWaves } from '@onpush/contracts';
import { parseClusters, sandboxCommand, sandboxDir } from './sandbox-command.js';
import { isService, runOne, SERVICES } from './services.js';
import { startCommand } from './start-command.js';
import { statusCommand } from './status-command.js';

const USAGE = `onpush — restart every Kubernetes workload that runs a pushed image

usage:
  onpush demo [--clusters 3|a,b,c]    sandbox + pipeline + one Artifact Registry push, end to end
                                      (--clusters: a fleet, the push restarting in every cluster)
  onpush start [--scale N]            the five services as supervised processes, N of each (NATS_URL, or a local nats-server)
  onpush run <service>                one service in this process (${SERVICES.join(', ')})
  onpush provision [--replicas N]     create or update the JetStream streams, consumers and KV buckets (as admin)
      [--hub --clusters a,b | --cluster a] [--fleet-waves staging=1,prod-*=2]
                                      one side of a fleet: the hub (copies its clusters' outcomes and dead
                                      letters) or a cluster (copies the hub's pushes); --fleet-waves (on
                                      both sides, as the hub parser's FLEET_WAVES): a later wave's clusters
                                      copy only what the hub's gate let through
  onpush credentials [--dir DIR] [--secrets NAMESPACE] [--server-name HOST]...
                                      NATS identities (an NKEY seed per service and admin), the server's auth.conf, TLS
                                      (default DIR: ./.onpush/credentials; services read NATS_CREDENTIALS_DIR);
                                      --secrets: print them as Kubernetes Secrets for kubectl apply -f -
                                      --server-name: one more name in the server's certificate (a fleet
                                      hub's leaf-node address, as its clusters dial it)
  onpush dlq ls|show <id>|replay <id>|purge <id> [--stage S] [--cluster C] [--reason R] [--since 1h]
                                      dead letters: list, show, replay to the original subject, purge
                                      (at a fleet's hub: every cluster's; a replay goes into its cluster)
  onpush console [--port 8090] [--token-file F]
                                      the web console: live pushes and their fates, workloads, dead
                                      letters, health (token: --token-file, ONPUSH_CONSOLE_TOKEN, or printed)
  onpush status                       services' health, consumers' lag, DLQ depth, index size, last minute's fates
                                      (services at ONPUSH_<SERVICE>_URL, default http://127.0.0.1:808x)
  onpush audit [--since 1h] [--cluster C]
                                      every event and restart request ended exactly once? (exit 1 if not;
                                      at a fleet's hub: in every cluster, or in C)
  onpush pending [--state S]          restarts waiting for approval (onpush.dev/approval: required)
  onpush approve|reject <id>... [--note TEXT]
                                      let them restart, or end them rejected
  onpush sandbox up|down              local nats-server, Pub/Sub emulator, kube-apiserver + etcd
      [--dir DIR] [--only nats,pubsub,kube] [--nats-cluster 3] [--clusters 3|a,b,c]
      [--fleet-waves staging=1,prod-*=2]
                                      --nats-cluster N: a JetStream cluster of N nats-servers, streams on each
                                      --clusters: a fleet — a hub nats-server, and per cluster a leaf
                                      nats-server and its own kube-apiserver (env.<cluster> for its services)
                                      --fleet-waves: waves across those clusters (FLEET_WAVES in env)
  onpush help
options:
  --json   machine-readable output on stdout`;

function definedFilters(values: {
  stage?: string | undefined;
  cluster?: string | undefined;
  reason?: string | undefined;
  since?: string | undefined;
}): {
  stage?: string;
  cluster?: string;
  reason?: string;
  since?: string;
} {
  return {
    ...(values.stage ? { stage: values.stage } : {}),
    ...(values.cluster ? { cluster: values.cluster } : {}),
    ...(values.reason ? { reason: values.reason } : {}),
    ...(values.since ? { since: values.since } : {}),
  };
}

/** `--hub --clusters a,b` or `--cluster a`: one side of a fleet; a string says what is wrong. */
function fleetRole(values: {
  hub?: boolean | undefined;
  clusters?: string | undefined;
  cluster?: string | undefined;
  'fleet-waves'?: string | undefined;
}): FleetRole | undefined | string {
  if (values.hub && values.cluster !== undefined) return '--hub or --cluster, not both';
  let waves: FleetWaves | undefined;
  if (values['fleet-waves'] !== undefined) {
    if (!values.hub && values.cluster === undefined)
      return '--fleet-waves needs --hub or --cluster';
    try {
      waves = parseFleetWaves(values['fleet-waves']);
    } catch (error) {
      return `--fleet-waves ${(error as Error).message}`;
    }
  }
  const withWaves = waves === undefined ? {} : { waves };
  if (values.cluster !== undefined)
    return isClusterName(values.cluster)
      ? { role: 'cluster', cluster: values.cluster, ...withWaves }
      : `--cluster ${JSON.stringify(values.cluster)}: not a cluster name (a DNS label, not "hub")`;
  if (!values.hub) return undefined;
  const clusters = parseClusters(values.clusters);
  if (clusters === undefined) return '--hub needs --clusters (the names of its clusters)';
  return typeof clusters === 'string'
    ? `--clusters ${clusters}`
    : { role: 'hub', clusters, ...withWaves };
}

async function main(argv: string[]): Promise<number> {
  const { positionals, values } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      dir: { type: 'string' },
      only: { type: 'string' },
      replicas: { type: 'string' },
      secrets: { type: 'string' },
      scale: { type: 'string' },
      stage: { type: 'string' },
      reason: { type: 'string' },
      since: { type: 'string' },
      state: { type: 'string' },
      note: { type: 'string' },
      'nats-cluster': { type: 'string' },
      clusters: { type: 'string' },
      'fleet-waves': { type: 'string' },
      'server-name': { type: 'string', multiple: true },
      hub: { type: 'boolean' },
      cluster: { type: 'string' },
      port: { type: 'string' },
      host: { type: 'string' },
      'token-file': { type: 'string' },
      json: { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  const out = output(values.json);
  const [command, action] = positionals;
  const natsUrl = process.env['NATS_URL'] ?? 'nats://127.0.0.1:4222';
  if (values.help || !command || command === 'help') {
    out.info(USAGE);
    return command || values.help ? 0 : 2;
  }
  switch (command) {
    case 'demo': {
      const clusters = parseClusters(values.clusters);
      if (typeof clusters === 'string') {
        out.error(`onpush demo: --clusters ${clusters}`);
        return 2;
      }
      return demoCommand(sandboxDir(process.env, values.dir), out, clusters);
    }
    case 'start': {
      const scale = Number(values.scale ?? '1');
      if (!Number.isInteger(scale) || scale < 1 || scale > 9) {
        out.error(
          'onpush start: --scale must be a whole number from 1 to 9 (processes per service)',
        );
        return 2;
      }
      return startCommand(process.env, out, scale);
    }
    case 'run':
      if (!isService(action)) {
        out.error(`onpush run: name a service (${SERVICES.join(', ')})`);
        return 2;
      }
      await runOne(action);
      return 0;
    case 'provision': {
      const role = fleetRole(values);
      if (typeof role === 'string') {
        out.error(`onpush provision: ${role}`);
        return 2;
      }
      return provisionCommand(
        natsUrl,
        values.replicas === undefined ? undefined : Number(values.replicas),
        out,
        role,
      );
    }
    case 'credentials':
      return credentialsCommand(
        values.dir ?? join('.onpush', 'credentials'),
        out,
        values.secrets,
        values['server-name'] ?? [],
      );
    case 'dlq':
      return dlqCommand(
        action,
        positionals.slice(2),
        { natsUrl, json: values.json, ...definedFilters(values) },
        out,
      );
    case 'status':
      return statusCommand(natsUrl, process.env, out);
    case 'console':
      return consoleCommand(
        { natsUrl, port: values.port, host: values.host, tokenFile: values['token-file'] },
        process.env,
        out,
      );
    case 'audit':
      return auditCommand(
        { natsUrl, json: values.json, since: values.since, cluster: values.cluster },
        out,
      );
    case 'pending':
    case 'approve':
    case 'reject':
      return approveCommand(
        command,
        positionals.slice(1),
        { natsUrl, json: values.json, state: values.state, note: values.note },
        out,
      );
    case 'sandbox':
      return sandboxCommand(
        action,
        {
          dir: sandboxDir(process.env, values.dir),
          only: values.only,
          natsCluster: values['nats-cluster'],
          clusters: values.clusters,
          fleetWaves: values['fleet-waves'],
        },
        out,
      );
    default:
      out.error(`unknown command: ${command}\n\n${USAGE}`);
      return 2;
  }
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    process.stderr.write(`onpush: ${error instanceof Error ? error.message : String(error)}\n`);
    process.exitCode = 1;
  },
);
