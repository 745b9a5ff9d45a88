#!/usr/bin/env node
import { parseArgs } from 'node:util';
import { output } from './output.js';
import { sandboxCommand, sandboxDir } from './sandbox-command.js';

const USAGE = `onpush — restart every Kubernetes workload that runs a pushed image

usage:
  onpush sandbox up|down [--dir DIR] [--only nats,pubsub,kube]   local NATS, Pub/Sub emulator, kube-apiserver
  onpush demo                                                     the pipeline end to end on a sandbox
  onpush help
options:
  --json   machine-readable output on stdout`;

async function main(argv: string[]): Promise<number> {
  const { positionals, values } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      dir: { type: 'string' },
      only: { type: 'string' },
      json: { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  const out = output(values.json);
  const [command, action] = positionals;
  if (values.help || !command || command === 'help') {
    out.info(USAGE);
    return command || values.help ? 0 : 2;
  }
  switch (command) {
    case 'demo':
      // For now the demo brings the sandbox up and reports what runs; the pipeline joins it next.
      return sandboxCommand('up', { dir: sandboxDir(process.env, values.dir), only: values.only }, out);
    case 'sandbox':
      return sandboxCommand(action, { dir: sandboxDir(process.env, values.dir), only: values.only }, out);
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
