import {
  AUTH_CONF,
  CA_FILE,
  SERVER_CERT_FILE,
  SERVER_KEY_FILE,
  DEFAULT_SERVER_NAMES,
  LEAF_AUTH_CONF,
  LEAF_REMOTE_CONF,
  ensureCredentials,
  ensureLeafCredentials,
  credentialSecrets,
  ensureTls,
  seedFile,
} from '@onpush/nats';
import { NATS_IDENTITIES } from '@onpush/contracts';
import type { Output } from './output.js';

/**
 * `onpush credentials [--dir DIR]`: a NATS credentials directory — an NKEY seed per identity
 * (`<identity>.nk`, kept when there) and `auth.conf`, the server's authorization block with the
 * public keys and each identity's permissions — and TLS: a CA (`ca.pem`, what clients verify the
 * server with) and the server's certificate. Twice changes nothing; delete a file to re-make it.
 * `--secrets NAMESPACE`: print them as the Kubernetes Secrets the kustomize base mounts instead.
 */
export async function credentialsCommand(
  dir: string,
  out: Output,
  secretsNamespace?: string,
  /** More names for the server's certificate: a fleet hub's leaf-node address (`--server-name`). */
  serverNames: readonly string[] = [],
): Promise<number> {
  const { created } = ensureCredentials(dir);
  const leaf = ensureLeafCredentials(dir);
  const issued = await ensureTls(dir, [...DEFAULT_SERVER_NAMES, ...serverNames]);
  if (secretsNamespace !== undefined) {
    // Only the Secrets on stdout, so it can go straight to `kubectl apply -f -`.
    process.stdout.write(`${JSON.stringify(credentialSecrets(dir, secretsNamespace), null, 2)}\n`);
    return 0;
  }
  for (const identity of NATS_IDENTITIES) {
    const made = created.includes(identity) ? 'created' : 'kept';
    out.info(`${identity.padEnd(12)} ${seedFile(dir, identity)} ${made}`);
  }
  out.info(`server       ${dir}/${AUTH_CONF} (include it in nats-server's configuration)`);
  out.info(
    `fleet        ${dir}/${LEAF_AUTH_CONF} (the hub's), ${LEAF_REMOTE_CONF} (each cluster's): leaf identity ${leaf.publicKey}`,
  );
  out.info(
    `tls          ${dir}/${SERVER_CERT_FILE}, ${SERVER_KEY_FILE} (the server's), ${CA_FILE} (every client's) ${issued ? 'created' : 'kept'}`,
  );
  out.result({ dir, created, tls: issued });
  return 0;
}
