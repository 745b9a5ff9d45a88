import { describe, expect, it } from 'vitest';
import { parsePrometheusText, sampleValue } from './prometheus-text.js';
import { createLogger } from './logger.js';
import { createMetrics } from './metrics.js';
import { errorTypeOf } from './spans.js';
import { exportRequested } from './tracing.js';

describe('exportRequested', () => {
  it.each([
    [{}, false],
    [{ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://jaeger:4318' }, true],
    [{ OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'http://jaeger:4318/v1/traces' }, true],
    [{ OTEL_EXPORTER_OTLP_ENDPOINT: ' ' }, false],
    [{ OTEL_TRACES_EXPORTER: 'console' }, true],
    [{ OTEL_TRACES_EXPORTER: 'none', OTEL_EXPORTER_OTLP_ENDPOINT: 'http://j:4318' }, false],
    [{ OTEL_SDK_DISABLED: 'true', OTEL_EXPORTER_OTLP_ENDPOINT: 'http://j:4318' }, false],
  ])('%j → %s', (env, expected) => {
    expect(exportRequested(env)).toBe(expected);
  });
});

describe('errorTypeOf', () => {
  it('is the error type, else the class name, else _OTHER', () => {
    expect(errorTypeOf(Object.assign(new Error('x'), { type: 'http_403' }))).toBe('http_403');
    expect(errorTypeOf(new RangeError('x'))).toBe('RangeError');
    expect(errorTypeOf(new Error('x'))).toBe('_OTHER');
    expect(errorTypeOf('boom')).toBe('_OTHER');
  });
});

describe('parsePrometheusText', () => {
  const text = [
    '# HELP onpush_fates_total Terminal fates published, by fate',
    '# TYPE onpush_fates_total counter',
    'onpush_fates_total{fate="restarted",service="restarter"} 2',
    'onpush_fates_total{fate="dead",service="restarter"} 1',
    'onpush_push_to_restart_seconds_bucket{le="+Inf",service="restarter"} 3',
    'onpush_push_to_restart_seconds_count{service="restarter"} 3',
    'odd_label{msg="a \\"quoted\\", b\\\\c"} 1.5e3 1700000000000',
    'process_start_time_seconds 1700000000',
    'broken{x=1} 2',
  ].join('\n');

  it('reads samples, labels with escapes, and sums series', () => {
    const samples = parsePrometheusText(text);
    expect(samples).toHaveLength(6);
    expect(sampleValue(samples, 'onpush_fates_total')).toBe(3);
    expect(sampleValue(samples, 'onpush_fates_total', { fate: 'dead' })).toBe(1);
    expect(sampleValue(samples, 'onpush_fates_total', { fate: 'gone' })).toBe(0);
    expect(samples.find((s) => s.name === 'odd_label')).toEqual({
      name: 'odd_label',
      labels: { msg: 'a "quoted", b\\c' },
      value: 1500,
    });
    expect(sampleValue(samples, 'onpush_push_to_restart_seconds_bucket', { le: '+Inf' })).toBe(3);
  });
});

describe('createLogger', () => {
  it("never writes a URL's credentials, in the message, a field or an error", () => {
    const lines: string[] = [];
    const log = createLogger({ service: 'test' }, { write: (line) => lines.push(line) });
    const url = 'nats://onpush:hunter2@nats:4222';
    log.error(`cannot connect to ${url}`, { url, error: new Error(`refused by ${url}`) });
    expect(lines).toHaveLength(1);
    expect(lines[0]).not.toContain('hunter2');
    const record = JSON.parse(lines[0]!) as Record<string, unknown>;
    expect(record['msg']).toBe('cannot connect to nats://***@nats:4222');
    expect(record['url']).toBe('nats://***@nats:4222');
  });
});

describe('createMetrics', () => {
  it("labels every series with a fleet cluster's name, when it runs in one", async () => {
    const inCluster = await createMetrics('resolver', 'prod-eu').registry.metrics();
    expect(inCluster).toMatch(/onpush_ready\{service="resolver",k8s_cluster_name="prod-eu"\}/);
    const alone = await createMetrics('resolver').registry.metrics();
    expect(alone).not.toContain('k8s_cluster_name');
  });
});
