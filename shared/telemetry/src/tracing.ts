// Starting tracing for a service. With an OTLP endpoint (or an explicit OTEL_TRACES_EXPORTER)
// the OpenTelemetry Node SDK starts, configured by the standard OTEL_* variables (exporter and
// protocol, sampler, resource attributes, batch settings). Without one nothing is exported and
// the SDK is not even loaded: only the W3C propagator and the async context manager are
// registered, so trace context still flows from message to message and logs still carry the
// trace id of the message being handled, at the cost of a context switch per message.
import { context, propagation } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { W3CTraceContextPropagator } from '@opentelemetry/core';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { ATTR_K8S_CLUSTER_NAME } from './semconv.js';
import type { Logger } from './logger.js';

export type Env = Readonly<Record<string, string | undefined>>;

export interface Tracing {
  /** True when spans are recorded and exported. */
  readonly exporting: boolean;
  /** Exports what is buffered and stops; bounded, never rejects. */
  shutdown(): Promise<void>;
}

const set = (value: string | undefined): boolean => value !== undefined && value.trim() !== '';

/** True when the environment asks for spans to be exported somewhere. */
export function exportRequested(env: Env): boolean {
  if (/^(true|1)$/i.test(env['OTEL_SDK_DISABLED']?.trim() ?? '')) return false;
  const exporters = env['OTEL_TRACES_EXPORTER']?.trim().toLowerCase();
  if (exporters === 'none') return false;
  if (set(exporters)) return true;
  return set(env['OTEL_EXPORTER_OTLP_ENDPOINT']) || set(env['OTEL_EXPORTER_OTLP_TRACES_ENDPOINT']);
}

/** The service name, unless OTEL_SERVICE_NAME or OTEL_RESOURCE_ATTRIBUTES already name it. */
function defaultServiceName(service: string, env: Env): string | undefined {
  if (set(env['OTEL_SERVICE_NAME'])) return undefined;
  if (/(^|,)\s*service\.name\s*=/.test(env['OTEL_RESOURCE_ATTRIBUTES'] ?? '')) return undefined;
  return `onpush-${service}`;
}

/**
 * A fleet cluster's name (CLUSTER_NAME) as the `k8s.cluster.name` resource attribute, unless
 * OTEL_RESOURCE_ATTRIBUTES already sets it.
 */
function clusterAttribute(env: Env): string | undefined {
  if (/(^|,)\s*k8s\.cluster\.name\s*=/.test(env['OTEL_RESOURCE_ATTRIBUTES'] ?? ''))
    return undefined;
  return set(env['CLUSTER_NAME']) ? env['CLUSTER_NAME']!.trim() : undefined;
}

let started: Tracing | undefined;

function propagateOnly(): Tracing {
  context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
  propagation.setGlobalPropagator(new W3CTraceContextPropagator());
  return { exporting: false, shutdown: () => Promise.resolve() };
}

async function startSdk(service: string, env: Env, log?: Logger): Promise<Tracing> {
  const { NodeSDK } = await import('@opentelemetry/sdk-node');
  const serviceName = defaultServiceName(service, env);
  const cluster = clusterAttribute(env);
  const sdk = new NodeSDK({
    ...(serviceName !== undefined ? { serviceName } : {}),
    ...(cluster ? { resource: resourceFromAttributes({ [ATTR_K8S_CLUSTER_NAME]: cluster }) } : {}),
    // Metrics are Prometheus' (/metrics) and logs are JSON lines on stdout: the SDK exports
    // them only when asked explicitly.
    ...(set(env['OTEL_METRICS_EXPORTER']) ? {} : { metricReaders: [] }),
    ...(set(env['OTEL_LOGS_EXPORTER']) ? {} : { logRecordProcessors: [] }),
    // W3C trace context only (the SDK's default adds baggage, which onpush does not use and
    // which costs an extra header pass per message); OTEL_PROPAGATORS still decides when set.
    ...(set(env['OTEL_PROPAGATORS']) ? {} : { textMapPropagator: new W3CTraceContextPropagator() }),
  });
  sdk.start();
  log?.info('tracing: exporting spans', {
    endpoint:
      env['OTEL_EXPORTER_OTLP_TRACES_ENDPOINT'] ?? env['OTEL_EXPORTER_OTLP_ENDPOINT'] ?? 'default',
    protocol: env['OTEL_EXPORTER_OTLP_PROTOCOL'] ?? 'http/protobuf',
    service: serviceName ?? env['OTEL_SERVICE_NAME'] ?? 'from OTEL_RESOURCE_ATTRIBUTES',
  });
  return {
    exporting: true,
    shutdown: async () => {
      const timeout = new Promise<void>((resolve) => setTimeout(resolve, 5_000).unref());
      await Promise.race([sdk.shutdown(), timeout]).catch((error: unknown) =>
        log?.warn('tracing: shutdown failed', { error }),
      );
    },
  };
}

/**
 * Starts tracing once per process (later calls return the first result). Never throws: when
 * the SDK cannot start, the service runs with propagation only and says so.
 */
export async function startTracing(
  service: string,
  options: { env?: Env; log?: Logger } = {},
): Promise<Tracing> {
  if (started) return started;
  const env = options.env ?? process.env;
  try {
    started = exportRequested(env) ? await startSdk(service, env, options.log) : propagateOnly();
  } catch (error) {
    options.log?.warn('tracing: the OpenTelemetry SDK did not start; spans are not exported', {
      error,
    });
    started = propagateOnly();
  }
  return started;
}
