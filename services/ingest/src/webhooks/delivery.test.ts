import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { deliveryId } from './delivery.js';
import type { Source } from './sources.js';

const sha = (body: string) => createHash('sha256').update(body).digest('hex');

describe('deliveryId: the sender id where it gives one, else the body hash', () => {
  it.each<[Source, unknown, Record<string, string>, string]>([
    [
      'github',
      {},
      { 'x-github-delivery': '72d3162e-cc78-11e3-81ab-4c9367dc0958' },
      '72d3162e-cc78-11e3-81ab-4c9367dc0958',
    ],
    ['github', {}, {}, 'sha'],
    ['cloudevents', { id: 'body-id' }, { 'ce-id': 'header-id' }, 'header-id'],
    ['cloudevents', { specversion: '1.0', id: 'body-id' }, {}, 'body-id'],
    ['cloudevents', [{ id: 'a' }, { id: 'b' }], {}, 'sha'],
    ['distribution', { events: [{ id: 'asdf-0' }] }, {}, 'asdf-0'],
    ['distribution', { events: [{ id: 'asdf-0' }, { id: 'asdf-1' }] }, {}, 'sha'],
    ['eventgrid', [{ id: '831e1650' }], {}, '831e1650'],
    ['eventgrid', { id: 'ce-style' }, {}, 'ce-style'],
    ['acr', { id: 'cb8c3971' }, {}, 'cb8c3971'],
    ['ecr', { id: '13cde686' }, {}, '13cde686'],
    ['ecr', { Type: 'Notification', MessageId: 'sns-1', Message: '{"id":"x"}' }, {}, 'sns-1'],
    ['harbor', { specversion: '1.0', id: 'h-1' }, {}, 'h-1'],
    ['harbor', { type: 'PUSH_ARTIFACT', id: 'not-a-delivery-id' }, {}, 'sha'],
    ['dockerhub', { id: 'x' }, {}, 'sha'],
    ['acr', { id: 'has spaces' }, {}, 'sha'],
    ['acr', { id: 42 }, {}, 'sha'],
    ['acr', { id: 'batch#key' }, {}, 'sha'],
    ['acr', { id: 'x'.repeat(201) }, {}, 'sha'],
  ])('%s %j %j → %s', (source, json, headers, expected) => {
    const body = Buffer.from(JSON.stringify(json));
    expect(deliveryId(source, json, headers, body)).toBe(
      expected === 'sha' ? sha(body.toString()) : expected,
    );
  });
});
