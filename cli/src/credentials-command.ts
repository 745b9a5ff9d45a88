import { AUTH_CONF, ensureCredentials, seedFile } from '@onpush/nats';
import { NATS_IDENTITIES } from '@onpush/contracts';
import type { Output } from './output.js';

/**
 * `onpush credentials [--dir DIR]`: a NATS credentials directory — an NKEY seed per identity
 * (`<identity>.nk`, kept when there) and `auth.conf`, the server's authorization block with the
 * public keys and each identity's permissions. Twice changes nothing; delete a seed to rotate it.
 */
export function credentialsCommand(dir: string, out: Output): number {
  const { created } = ensureCredentials(dir);
  for (const identity of NATS_IDENTITIES) {
    const made = created.includes(identity) ? 'created' : 'kept';
    out.info(`${identity.padEnd(12)} ${seedFile(dir, identity)} ${made}`);
  }
  out.info(`server       ${dir}/${AUTH_CONF} (include it in nats-server's configuration)`);
  out.result({ dir, created });
  return 0;
}
