import { batch, entries, ignored, pushes } from './batch.js';
import { asObject, fieldOf, lookup, need, parseJson, show } from './read.js';
import { isManifest, targetPush } from './target.js';
import type { Delivery, Format, FormatResult } from './types.js';

const NOT_PUSH: Readonly<Record<string, string>> = { pull: 'pull', delete: 'delete' };

/**
 * CNCF Distribution (and GitLab's registry) notifications: `{"events":[…]}`, a batch keyed by
 * `events[].id`. A push is `action == "push"` of a manifest or index; layer and config blob pushes,
 * pulls, deletes and mounts are ignored. Host: `request.host`, else the endpoint's registry host.
 */
export const distribution: Format = (delivery) => {
  const body = asObject(parseJson(delivery.data), 'body');
  return batch(entries(body['events'], 'body.events'), {
    where: 'events',
    idOf: (item) => fieldOf(item, 'id'),
    entry: (item, where) => event(item, where, delivery),
  });
};

function event(item: unknown, where: string, delivery: Delivery): FormatResult {
  const entry = asObject(item, where);
  const action = need(entry, 'action', where).toLowerCase();
  if (action !== 'push')
    return ignored(lookup(NOT_PUSH, action) ?? 'not_a_push', `action ${show(action)}`);
  // A push names what was pushed: an event without its target is broken, not a blob push.
  if (!isManifest(asObject(entry['target'], `${where}.target`)))
    return ignored('layer', 'a blob push');
  return pushes(targetPush(entry, where, delivery));
}
