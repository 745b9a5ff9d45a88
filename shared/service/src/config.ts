import { z } from 'zod';
import { duration, enumOf, host, int, list, port, secret, url } from '@onpush/config';
import { isClusterName } from '@onpush/contracts';

/** Variables every service reads; each service extends this with its own. */
export const baseServiceSchema = z.object({
  /**
   * One or more servers of one NATS cluster, comma-separated (every node, so a service reaches
   * the cluster whichever node is down); the client picks one and fails over to the others.
   */
  NATS_URL: list(url(['nats', 'tls', 'ws', 'wss']))
    .refine((urls) => urls.length > 0, 'must name at least one server')
    .transform((urls) => urls.join(','))
    .default('nats://127.0.0.1:4222'),
  /**
   * A directory holding this service's NKEY seed `<service>.nk` (and `ca.pem` to verify the
   * server's TLS certificate): `onpush credentials` makes one; Kubernetes mounts a Secret.
   */
  NATS_CREDENTIALS_DIR: z.string().min(1).optional(),
  NATS_USER: z.string().optional(),
  NATS_PASSWORD: secret(z.string()).optional(),
  /**
   * In a fleet (one hub, several clusters): the name of the cluster this service runs in. Its
   * outcomes and dead letters carry it to the hub (header Onpush-Cluster), as do its metrics and
   * traces (`k8s.cluster.name`). Unset: a single-cluster install.
   */
  CLUSTER_NAME: z
    .string()
    .refine(isClusterName, 'must be a DNS label (a-z, 0-9, "-"), and not "hub"')
    .optional(),
  /** Port of /healthz, /readyz, /metrics (and the service's own routes). */
  PORT: port({ allowZero: true }),
  /** The address every HTTP listener binds: `0.0.0.0` (all interfaces), or e.g. `127.0.0.1`. */
  BIND_ADDRESS: host().default('0.0.0.0'),
  LOG_LEVEL: enumOf(['debug', 'info', 'warn', 'error']).default('info'),
  /** Messages handled at once by one replica. */
  MAX_IN_FLIGHT: int({ min: 1, max: 10_000 }).default(64),
  /** NAK delays for transient failures, attempt by attempt (the last repeats). */
  RETRY_SCHEDULE: list(duration({ min: 0 })).default([250, 1_000, 5_000, 15_000, 30_000]),
  /** Deliveries of one message before it is dead-lettered (unset: the topology's value). */
  CONSUMER_MAX_DELIVER: int({ min: 1, max: 1_000 }).optional(),
  /** Redelivery delays after an ack timeout, e.g. `1s,5s,30s`; the first is the ack wait. */
  CONSUMER_BACKOFF: list(duration({ min: 100, max: 86_400_000 }))
    .pipe(z.array(z.number()).min(1, { error: 'must list at least one duration' }))
    .optional(),
  /** How long a delivery may go unacknowledged (replaces the backoff's first step). */
  CONSUMER_ACK_WAIT: duration({ min: 100, max: 86_400_000 }).optional(),
});
export type BaseServiceConfig = z.output<typeof baseServiceSchema>;

/** The NATS credentials of a service's config, for defineStage (unset when not configured). */
export function natsCredentials(
  config: Pick<BaseServiceConfig, 'NATS_USER' | 'NATS_PASSWORD' | 'NATS_CREDENTIALS_DIR'>,
): {
  natsCredentialsDir?: string;
  natsUser?: string;
  natsPassword?: string;
} {
  return {
    ...(config.NATS_CREDENTIALS_DIR === undefined
      ? {}
      : { natsCredentialsDir: config.NATS_CREDENTIALS_DIR }),
    ...(config.NATS_USER === undefined ? {} : { natsUser: config.NATS_USER }),
    ...(config.NATS_PASSWORD === undefined ? {} : { natsPassword: config.NATS_PASSWORD }),
  };
}
