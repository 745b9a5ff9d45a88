import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll } from 'vitest';
import { Sandbox, type Component, type SandboxOptions } from '@onpush/sandbox';

const log = (line: string): void => console.info(`sandbox: ${line}`);

/**
 * `provision: false`: a nats-server without onpush's streams (tests of provisioning itself);
 * `natsCluster`: a JetStream cluster instead of one nats-server; `fleet`: a hub and clusters.
 */
export type SandboxChoices = Pick<SandboxOptions, 'provision' | 'natsCluster' | 'fleet'>;

/** Starts an isolated sandbox (its own ports and state directory) for one test file. */
export async function startSandbox(
  components: readonly Component[],
  label = 'suite',
  options: SandboxChoices = {},
): Promise<Sandbox> {
  const dir = mkdtempSync(join(tmpdir(), `onpush-${label}-`));
  const sandbox = await Sandbox.start({ dir, components, log, ...options });
  // Connections the test opens itself (and the CLI it runs) sign in as admin with these.
  if (sandbox.env.NATS_CREDENTIALS_DIR)
    process.env['NATS_CREDENTIALS_DIR'] = sandbox.env.NATS_CREDENTIALS_DIR;
  return sandbox;
}

/**
 * Registers beforeAll/afterAll for a sandbox with the given servers. The returned getter is
 * valid inside tests. The sandbox stops after the file, also when a test failed.
 */
export function useSandbox(
  components: readonly Component[],
  label?: string,
  options?: SandboxChoices,
): () => Sandbox {
  let sandbox: Sandbox | undefined;
  beforeAll(async () => {
    sandbox = await startSandbox(components, label, options);
  });
  afterAll(async () => {
    if (!sandbox) return;
    await sandbox.stop();
    if (!process.env['ONPUSH_KEEP_SANDBOX']) rmSync(sandbox.dir, { recursive: true, force: true });
  });
  return () => {
    if (!sandbox) throw new Error('sandbox not started (use it inside a test or hook)');
    return sandbox;
  };
}
