import { ignored, pushes } from './batch.js';
import { asObject, lookup, need, parseJson, show, type Json } from './read.js';
import { targetPush } from './target.js';
import type { Delivery, Format, FormatResult } from './types.js';

const ACTIONS: Readonly<Record<string, string>> = {
  ping: 'handshake',
  delete: 'delete',
  chart_push: 'chart',
  chart_delete: 'delete',
  quarantine: 'not_a_push',
};

/**
 * Azure Container Registry webhooks: `action` `push` with `target.repository`, `target.tag`
 * (absent on a push by digest), `target.digest` and `request.host`. `ping` is a handshake;
 * `delete`, `chart_push`, `chart_delete`, `quarantine` are ignored.
 */
export const acr: Format = (delivery) =>
  acrEvent(asObject(parseJson(delivery.data), 'body'), 'body', delivery);

function acrEvent(event: Json, where: string, delivery: Delivery): FormatResult {
  const action = need(event, 'action', where).toLowerCase();
  if (action !== 'push') {
    return ignored(lookup(ACTIONS, action) ?? 'not_a_push', `ACR action ${show(action)}`);
  }
  return pushes(targetPush(event, where, delivery));
}
