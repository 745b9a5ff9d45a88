import { ParseError } from '../errors.js';
import { batch, ignored, pushes } from './batch.js';
import { readCloudEvents, structuredEvent, type CloudEvent } from './ce.js';
import { eventGridEvent } from './eventgrid.js';
import { harborCloudEvent } from './harbor.js';
import { child, firstOf, isObject, show, text, type Json } from './read.js';
import { configuredPrefix, nameWithHost, partsOf, pushOf, type Parts } from './reference.js';
import type { Delivery, Format, FormatResult } from './types.js';

const NOT_PUSH: readonly [RegExp, string][] = [
  [/delet|remov|purg/i, 'delete'],
  [/pull/i, 'pull'],
  [/scan|vulnerab/i, 'scan'],
  [/fail|error/i, 'failed'],
];
const REFERENCE_FIELDS = ['image', 'imageRef', 'imageReference', 'reference', 'ref', 'uri'];

/**
 * Generic CloudEvents 1.0: binary, structured or batch mode (a batch is keyed by event `id`).
 * Harbor (`harbor.*`) and Event Grid ACR (`Microsoft.*`) types are read as those sources read
 * them. Any other type is a push unless it names a delete, pull, scan or failure; its data is
 * a reference string, or an object with one of `image`, `imageRef`, `imageReference`,
 * `reference`, `ref`, `uri` (a full reference), or `repository` with `tag`, `digest` and
 * `host`/`registry` (else the endpoint's registry host, else the repository as written).
 */
export const cloudevents: Format = (delivery) => {
  const read = readCloudEvents(delivery);
  if (read.mode !== 'batch') return cloudEvent(read.event, 'body', delivery);
  return batch(read.events, {
    where: 'events',
    idOf: (item) => (isObject(item) ? item['id'] : undefined),
    entry: (item, where) => cloudEvent(structuredEvent(item, where), where, delivery),
  });
};

function cloudEvent(event: CloudEvent, where: string, delivery: Delivery): FormatResult {
  const type = event.type.toLowerCase();
  if (type.startsWith('harbor.')) return harborCloudEvent(event, where, delivery);
  if (type.startsWith('microsoft.')) return eventGridEvent(event, where, delivery);
  const reason = NOT_PUSH.find(([pattern]) => pattern.test(type))?.[1];
  if (reason !== undefined) return ignored(reason, `CloudEvent type ${show(event.type)}`);
  const parts = dataParts(event.data, `${where}.data`, delivery);
  return pushes(pushOf(parts, `${where}.data`, event.time));
}

function dataParts(data: unknown, where: string, delivery: Delivery, nested = false): Parts {
  if (typeof data === 'string' && data.trim() !== '') return partsOf(data);
  if (!isObject(data)) {
    throw new ParseError('missing_field', `${where} must name an image (a reference or an object)`);
  }
  const image = child(data, 'image');
  if (image !== undefined && !nested) return dataParts(image, `${where}.image`, delivery, true);
  const reference = firstOf(...REFERENCE_FIELDS.map((field) => text(data, field)));
  if (reference !== undefined) return partsOf(reference);
  return fromFields(data, where, delivery);
}

function fromFields(data: Json, where: string, delivery: Delivery): Parts {
  const repository = text(data, 'repository');
  if (repository === undefined) {
    throw new ParseError(
      'missing_field',
      `${where} names no image: expected image, reference, uri or repository`,
    );
  }
  const host = firstOf(text(data, 'host'), text(data, 'registry'));
  const name =
    host === undefined && configuredPrefix(delivery) === undefined
      ? repository
      : nameWithHost(delivery, host, repository, where, `${where}.host`);
  return { name, tag: text(data, 'tag'), digest: text(data, 'digest') };
}
