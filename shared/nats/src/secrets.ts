// A credentials directory as Kubernetes Secrets, named as the kustomize base mounts them: each
// service's pod gets only its own seed and the CA; nats-server gets the authorization block and
// its certificate; the provision Job (and an operator's CLI) the admin seed.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { NATS_IDENTITIES, type NatsIdentity } from '@onpush/contracts';
import { AUTH_CONF, LEAF_AUTH_CONF, LEAF_REMOTE_CONF, seedFile } from './credentials.js';
import { CA_FILE } from './connect.js';
import { SERVER_CERT_FILE, SERVER_KEY_FILE } from './tls.js';

/** The Secret holding identity's seed and the CA: `onpush-nats-<identity>`. */
export const identitySecretName = (identity: NatsIdentity): string => `onpush-nats-${identity}`;
/** The Secret nats-server mounts at /etc/nats/auth. */
export const SERVER_SECRET_NAME = 'nats-auth';
/** A fleet hub's nats-server: the leaf identity's public key (k8s/overlays/fleet-hub). */
export const LEAF_HUB_SECRET_NAME = 'nats-leaf-hub';
/** A fleet cluster's nats-server: the leaf seed and the CA of the hub (k8s/overlays/fleet-cluster). */
export const LEAF_CLUSTER_SECRET_NAME = 'nats-leaf-cluster';
/** The hub's CA as a fleet cluster's nats-server verifies it. */
export const LEAF_CA_FILE = 'leaf-ca.pem';

interface Secret {
  apiVersion: 'v1';
  kind: 'Secret';
  metadata: { name: string; namespace: string; labels: Record<string, string> };
  type: 'Opaque';
  data: Record<string, string>;
}

/** A `v1/List` of the Secrets, for `kubectl apply -f -`. */
export function credentialSecrets(
  dir: string,
  namespace: string,
): { apiVersion: 'v1'; kind: 'List'; items: Secret[] } {
  const b64 = (file: string): string => readFileSync(file).toString('base64');
  const secret = (name: string, files: Record<string, string>): Secret => ({
    apiVersion: 'v1',
    kind: 'Secret',
    metadata: { name, namespace, labels: { 'app.kubernetes.io/part-of': 'onpush' } },
    type: 'Opaque',
    data: Object.fromEntries(Object.entries(files).map(([key, file]) => [key, b64(file)])),
  });
  const ca = join(dir, CA_FILE);
  return {
    apiVersion: 'v1',
    kind: 'List',
    items: [
      secret(SERVER_SECRET_NAME, {
        [AUTH_CONF]: join(dir, AUTH_CONF),
        [SERVER_CERT_FILE]: join(dir, SERVER_CERT_FILE),
        [SERVER_KEY_FILE]: join(dir, SERVER_KEY_FILE),
      }),
      ...NATS_IDENTITIES.map((identity) =>
        secret(identitySecretName(identity), {
          [`${identity}.nk`]: seedFile(dir, identity),
          [CA_FILE]: ca,
        }),
      ),
      // A fleet: the hub's half, and every cluster's (one `onpush credentials` for the fleet).
      ...(existsSync(join(dir, LEAF_AUTH_CONF))
        ? [
            secret(LEAF_HUB_SECRET_NAME, { [LEAF_AUTH_CONF]: join(dir, LEAF_AUTH_CONF) }),
            secret(LEAF_CLUSTER_SECRET_NAME, {
              [LEAF_REMOTE_CONF]: join(dir, LEAF_REMOTE_CONF),
              [LEAF_CA_FILE]: ca,
            }),
          ]
        : []),
    ],
  };
}
