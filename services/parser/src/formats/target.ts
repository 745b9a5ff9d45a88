// The Distribution notification event shape, shared by the CNCF registry, GitLab's registry, ACR
// webhooks and ACR events through Event Grid: `{action, timestamp, target: {mediaType,
// repository, tag?, digest}, request: {host}}`.
import { asObject, child, firstOf, need, text, timeOf, type Json } from './read.js';
import { nameWithHost, pushOf } from './reference.js';
import type { Delivery, Push } from './types.js';

/**
 * The push an event's `target` describes: host from `request.host` (else the endpoint's), time
 * from `timestamp` (else `fallbackTime`).
 */
export function targetPush(
  event: Json,
  where: string,
  delivery: Delivery,
  fallbackTime?: string,
): Push {
  const target = asObject(event['target'], `${where}.target`);
  const repository = need(target, 'repository', `${where}.target`);
  const host = text(child(event, 'request'), 'host');
  const name = nameWithHost(delivery, host, repository, where, `${where}.request.host`);
  return pushOf(
    { name, tag: text(target, 'tag'), digest: text(target, 'digest') },
    where,
    firstOf(timeOf(event['timestamp']), fallbackTime),
  );
}

const LAYER = /(?:layer|rootfs|diff|config|octet-stream|blob)/;
const MANIFEST = /(?:^|[./+-])(?:manifest|index)(?:$|[./+-])/;

/**
 * True when a pushed `target` is a manifest or an index (an image), false for a layer or a config
 * blob. Without a media type, a tag or a `/manifests/` URL says it is a manifest.
 */
export function isManifest(target: Json | undefined): boolean {
  const mediaType = text(target, 'mediaType')?.toLowerCase().split(';')[0]?.trim();
  if (mediaType === undefined) {
    return text(target, 'tag') !== undefined || (text(target, 'url') ?? '').includes('/manifests/');
  }
  return MANIFEST.test(mediaType) && !LAYER.test(mediaType);
}
