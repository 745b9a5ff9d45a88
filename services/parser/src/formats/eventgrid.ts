import { batch, entries, ignored, pushes } from './batch.js';
import { structuredEvent, type CloudEvent } from './ce.js';
import { asObject, isObject, lookup, need, parseJson, show, text } from './read.js';
import { targetPush } from './target.js';
import type { Delivery, Format, FormatResult } from './types.js';

const PUSHED = 'microsoft.containerregistry.imagepushed';
const NOT_PUSH: Readonly<Record<string, string>> = {
  'microsoft.containerregistry.imagedeleted': 'delete',
  'microsoft.containerregistry.chartpushed': 'chart',
  'microsoft.containerregistry.chartdeleted': 'delete',
  'microsoft.eventgrid.subscriptionvalidationevent': 'handshake',
};

/**
 * ACR events through Azure Event Grid: a JSON array (or one object) of Event Grid schema events
 * (`eventType`, `eventTime`, `data`) or CloudEvents 1.0 (`type`, `time`, `data`), keyed by `id`.
 * A push is `Microsoft.ContainerRegistry.ImagePushed`; its `data` (an object, or the same as a
 * JSON string) is the ACR event: `target.repository/tag/digest`, `request.host`. The subscription
 * validation event is a handshake; deletes and chart events are ignored.
 */
export const eventgrid: Format = (delivery) => {
  const body = parseJson(delivery.data);
  const list = Array.isArray(body) ? body : [asObject(body, 'body')];
  return batch(entries(list, 'body'), {
    where: 'events',
    idOf: (item) => (isObject(item) ? item['id'] : undefined),
    entry: (item, where) => eventGridEvent(asEvent(item, where), where, delivery),
  });
};

/** Either schema, as one shape. */
function asEvent(item: unknown, where: string): CloudEvent {
  const event = asObject(item, where);
  if (event['specversion'] !== undefined) return structuredEvent(event, where);
  return {
    type: need(event, 'eventType', where),
    id: text(event, 'id'),
    time: text(event, 'eventTime'),
    data: event['data'],
  };
}

/** An Event Grid ACR event (also read by the generic `cloudevents` source). */
export function eventGridEvent(event: CloudEvent, where: string, delivery: Delivery): FormatResult {
  const type = event.type.toLowerCase();
  if (type !== PUSHED)
    return ignored(lookup(NOT_PUSH, type) ?? 'not_a_push', `event ${show(event.type)}`);
  const raw = typeof event.data === 'string' ? parseJson(event.data, `${where}.data`) : event.data;
  const data = asObject(raw, `${where}.data`);
  return pushes(targetPush(data, `${where}.data`, delivery, event.time));
}
