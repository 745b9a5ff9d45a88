import { TOPOLOGY, fleetTopology, type FleetRole } from '@onpush/contracts';
import { connectNats, jetstreamManager, provision } from '@onpush/nats';
import type { Output } from './output.js';

/**
 * `onpush provision`: creates or updates the streams and consumers; twice is a no-op. With a fleet
 * role (`--hub --clusters a,b` or `--cluster a`), that side's streams, with what they copy from
 * the other side, and the consumers of the services it runs.
 */
export async function provisionCommand(
  natsUrl: string,
  replicas: number | undefined,
  out: Output,
  role?: FleetRole,
): Promise<number> {
  const fleet = role && fleetTopology(role);
  const nc = await connectNats({ url: natsUrl, name: 'onpush-cli' });
  try {
    const changes = await provision(await jetstreamManager(nc), fleet?.topology ?? TOPOLOGY, {
      ...(replicas === undefined ? {} : { replicas }),
      ...(fleet ? { only: fleet.consumers } : {}),
    });
    for (const c of changes) out.info(`${c.kind.padEnd(9)} ${c.name.padEnd(28)} ${c.action}`);
    out.result({ changes });
    return 0;
  } finally {
    await nc.close();
  }
}
