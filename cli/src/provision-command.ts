import { TOPOLOGY } from '@onpush/contracts';
import { connectNats, jetstreamManager, provision } from '@onpush/nats';
import type { Output } from './output.js';

/** `onpush provision`: creates or updates the streams and consumers; twice is a no-op. */
export async function provisionCommand(
  natsUrl: string,
  replicas: number | undefined,
  out: Output,
): Promise<number> {
  const nc = await connectNats({ url: natsUrl, name: 'onpush-cli' });
  try {
    const changes = await provision(
      await jetstreamManager(nc),
      TOPOLOGY,
      replicas === undefined ? {} : { replicas },
    );
    for (const c of changes) out.info(`${c.kind.padEnd(9)} ${c.name.padEnd(28)} ${c.action}`);
    out.result({ changes });
    return 0;
  } finally {
    await nc.close();
  }
}
