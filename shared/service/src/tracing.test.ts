import { describe, expect, it } from 'vitest';
import type { Publish, PublishOptions } from '@onpush/nats';
import { createMetrics, parsePrometheusText, sampleValue } from '@onpush/telemetry';
import { instrumentPublish } from './tracing.js';

function fakePublish(duplicates: ReadonlySet<string> = new Set()) {
  const sent: { subject: string; options: PublishOptions }[] = [];
  let seq = 0;
  const publish: Publish = (subject, _data, options) => {
    sent.push({ subject, options });
    seq += 1;
    return Promise.resolve({ stream: 'S', seq, duplicate: duplicates.has(options.msgId) });
  };
  return { publish, sent };
}

describe('instrumentPublish', () => {
  it('counts each stored outcome once, by fate; duplicates and other subjects do not count', async () => {
    const metrics = createMetrics('test');
    const { publish, sent } = fakePublish(new Set(['e1:restarted-again']));
    const instrumented = instrumentPublish(publish, metrics);
    const data = new Uint8Array([1, 2, 3]);
    await instrumented('onpush.outcome.restarted', data, { msgId: 'e1:w1' });
    await instrumented('onpush.outcome.restarted', data, { msgId: 'e1:restarted-again' });
    await instrumented('onpush.outcome.no-match', data, { msgId: 'e2' });
    await instrumented('onpush.restart.shop', data, { msgId: 'e3', headers: { a: 'b' } });
    const samples = parsePrometheusText(await metrics.registry.metrics());
    expect(sampleValue(samples, 'onpush_fates_total', { fate: 'restarted' })).toBe(1);
    expect(sampleValue(samples, 'onpush_fates_total', { fate: 'no-match' })).toBe(1);
    expect(sampleValue(samples, 'onpush_fates_total')).toBe(2);
    expect(sent.map((s) => s.options.msgId)).toEqual(['e1:w1', 'e1:restarted-again', 'e2', 'e3']);
    expect(sent[3]?.options.headers).toEqual({ a: 'b' });
  });

  it('passes a failed publish on, counting nothing', async () => {
    const metrics = createMetrics('test');
    const failing: Publish = () => Promise.reject(new Error('nats down'));
    await expect(
      instrumentPublish(failing, metrics)('onpush.outcome.gone', new Uint8Array(), { msgId: 'x' }),
    ).rejects.toThrow('nats down');
    const samples = parsePrometheusText(await metrics.registry.metrics());
    expect(sampleValue(samples, 'onpush_fates_total')).toBe(0);
  });
});
