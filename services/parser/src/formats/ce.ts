// CloudEvents 1.0 over HTTP: binary mode (attributes in `ce-*` headers, the body is the data),
// structured mode (`application/cloudevents+json`, the event as a JSON object with `data` or
// `data_base64`) and batch mode (`application/cloudevents-batch+json`, a JSON array of events).
import { ParseError } from '../errors.js';
import { entries } from './batch.js';
import { decodeBase64, isObject, need, parseJson, text, utf8Text, type Json } from './read.js';
import type { Delivery } from './types.js';

export interface CloudEvent {
  type: string;
  id?: string | undefined;
  time?: string | undefined;
  source?: string | undefined;
  subject?: string | undefined;
  /** Parsed JSON data, a text (non-JSON content type), or undefined when the event has none. */
  data: unknown;
}

export type CloudEvents =
  | { mode: 'binary' | 'structured'; event: CloudEvent }
  | { mode: 'batch'; events: readonly unknown[] };

const mediaType = (value: string | undefined): string =>
  (value ?? '').toLowerCase().split(';')[0]!.trim();

function contentTypeOf(delivery: Delivery): string {
  return mediaType(delivery.contentType ?? delivery.transport['content-type']);
}

/** True when the delivery carries CloudEvents attributes in `ce-*` headers (binary mode). */
export function isBinary(delivery: Delivery): boolean {
  const type = contentTypeOf(delivery);
  return (
    !type.startsWith('application/cloudevents') &&
    (delivery.transport['ce-type'] !== undefined ||
      delivery.transport['ce-specversion'] !== undefined)
  );
}

/** The delivery's CloudEvents, by content type first and by shape when it says nothing. */
export function readCloudEvents(delivery: Delivery): CloudEvents {
  if (isBinary(delivery)) return { mode: 'binary', event: binaryEvent(delivery) };
  const body = parseJson(delivery.data);
  if (Array.isArray(body)) return { mode: 'batch', events: entries(body, 'body') };
  if (isObject(body) && (body['specversion'] !== undefined || body['type'] !== undefined)) {
    return { mode: 'structured', event: structuredEvent(body, 'body') };
  }
  throw new ParseError(
    'missing_field',
    'not a CloudEvent: no ce-type header, and the body is neither an event object nor a batch',
  );
}

/** The event of a binary-mode delivery (see isBinary). */
export function binaryEvent(delivery: Delivery): CloudEvent {
  const header = (name: string): string | undefined => {
    const value = delivery.transport[`ce-${name}`]?.trim();
    return value === undefined || value === '' ? undefined : value;
  };
  const type = header('type');
  if (type === undefined) throw new ParseError('missing_field', 'the ce-type header is missing');
  return {
    type,
    id: header('id'),
    time: header('time'),
    source: header('source'),
    subject: header('subject'),
    data:
      delivery.data.length === 0
        ? undefined
        : dataOf(delivery.data, contentTypeOf(delivery), 'body'),
  };
}

/** One event in structured (or batch) mode. */
export function structuredEvent(value: unknown, where: string): CloudEvent {
  if (!isObject(value))
    throw new ParseError('missing_field', `${where} must be a CloudEvent object`);
  return {
    type: need(value, 'type', where),
    id: text(value, 'id'),
    time: text(value, 'time'),
    source: text(value, 'source'),
    subject: text(value, 'subject'),
    data: structuredData(value, where),
  };
}

function structuredData(event: Json, where: string): unknown {
  const encoded = event['data_base64'];
  if (encoded === undefined || encoded === null) return event['data'];
  if (typeof encoded !== 'string') {
    throw new ParseError('invalid_encoding', `${where}.data_base64 must be a base64 string`);
  }
  const bytes = decodeBase64(encoded, `${where}.data_base64`);
  return dataOf(bytes, mediaType(text(event, 'datacontenttype')), `${where}.data_base64`);
}

/** Bytes of event data: JSON when the content type says so or the text looks like JSON. */
function dataOf(bytes: Uint8Array, contentType: string, where: string): unknown {
  const textData = utf8Text(bytes, where);
  const json = contentType.endsWith('json') || /^\s*[[{"]/.test(textData);
  return json ? parseJson(textData, where) : textData.trim();
}
