import type { Output } from './output.js';
import { gatherStatus, serviceUrls } from './status.js';
import { formatStatus } from './status-format.js';

/**
 * `onpush status [--json]`: services' health, consumers' lag, DLQ depth, index size and the
 * last minute's fates. Exit 0 when every service is ready and JetStream answered, else 1.
 */
export async function statusCommand(
  natsUrl: string,
  env: NodeJS.ProcessEnv,
  out: Output,
): Promise<number> {
  const report = await gatherStatus({ natsUrl, urls: serviceUrls(env) });
  out.info(formatStatus(report));
  out.result(report);
  const healthy = report.services.every((s) => s.ready) && report.consumers !== undefined;
  return healthy ? 0 : 1;
}
