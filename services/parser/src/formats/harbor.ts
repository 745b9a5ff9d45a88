import { splitReference } from '@onpush/contracts';
import { ParseError } from '../errors.js';
import { batch, entries, ignored } from './batch.js';
import { binaryEvent, isBinary, structuredEvent, type CloudEvent } from './ce.js';
import {
  asObject,
  child,
  firstOf,
  need,
  parseJson,
  show,
  text,
  timeOf,
  type Json,
} from './read.js';
import { nameWithHost, pushOf } from './reference.js';
import type { Delivery, Format, FormatResult } from './types.js';

/**
 * Harbor webhooks, "Default" format (`type: PUSH_ARTIFACT`, `occur_at`, `event_data`) or
 * "CloudEvents" format (`type: harbor.artifact.pushed`, `time`, `data`). A push names its
 * artifacts in `resources[]` (a batch keyed by index): `resource_url` = `host/path[:tag][@digest]`,
 * `tag` (equal to the digest on a push by digest), `digest`. Pulls, deletes, scans, quota,
 * replication and retention events are ignored.
 */
export const harbor: Format = (delivery) => {
  if (isBinary(delivery)) return harborCloudEvent(binaryEvent(delivery), 'body', delivery);
  const body = asObject(parseJson(delivery.data), 'body');
  if (body['specversion'] !== undefined) {
    return harborCloudEvent(structuredEvent(body, 'body'), 'body', delivery);
  }
  const type = need(body, 'type', 'body');
  if (type.toUpperCase() !== 'PUSH_ARTIFACT') return notPush(type);
  return artifacts(asObject(body['event_data'], 'body.event_data'), 'body.event_data', {
    delivery,
    pushedAt: timeOf(body['occur_at']),
  });
};

/** A Harbor event in the CloudEvents format (also read by the generic `cloudevents` source). */
export function harborCloudEvent(
  event: CloudEvent,
  where: string,
  delivery: Delivery,
): FormatResult {
  if (event.type.toLowerCase() !== 'harbor.artifact.pushed') return notPush(event.type);
  return artifacts(asObject(event.data, `${where}.data`), `${where}.data`, {
    delivery,
    pushedAt: event.time,
  });
}

const REASONS: readonly [RegExp, string][] = [
  [/DELETE/, 'delete'],
  [/PULL/, 'pull'],
  [/SCAN/, 'scan'],
  [/REPLICATION/, 'replication'],
  [/CHART/, 'chart'],
];

function notPush(type: string): FormatResult {
  const upper = type.toUpperCase();
  const reason = REASONS.find(([pattern]) => pattern.test(upper))?.[1] ?? 'not_a_push';
  return ignored(reason, `Harbor event ${show(type)}`);
}

interface Context {
  delivery: Delivery;
  pushedAt: string | undefined;
}

function artifacts(eventData: Json, where: string, context: Context): FormatResult {
  const repository = child(eventData, 'repository');
  return batch(entries(eventData['resources'], `${where}.resources`), {
    where: `${where}.resources`,
    entry: (item, at) => resource(asObject(item, at), at, repository, context),
  });
}

function resource(
  item: Json,
  where: string,
  repository: Json | undefined,
  { delivery, pushedAt }: Context,
): FormatResult {
  const url = text(item, 'resource_url');
  const fromUrl = url === undefined ? undefined : splitReference(url);
  const slash = fromUrl?.name.indexOf('/') ?? -1;
  const host = fromUrl !== undefined && slash > 0 ? fromUrl.name.slice(0, slash) : undefined;
  const path =
    host !== undefined
      ? fromUrl!.name.slice(slash + 1)
      : firstOf(text(repository, 'repo_full_name'), fromUrl?.name);
  if (path === undefined) {
    throw new ParseError('missing_field', `${where}.resource_url must be a non-empty string`);
  }
  const name = nameWithHost(delivery, host, path, where, `${where}.resource_url`);
  const tag = firstOf(text(item, 'tag'), fromUrl?.tag);
  const digest = firstOf(text(item, 'digest'), fromUrl?.digest);
  return { kind: 'pushes', pushes: [pushOf({ name, tag, digest }, where, pushedAt)] };
}
