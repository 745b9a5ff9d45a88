// A real Jaeger v2 (all-in-one: OTLP/HTTP in, memory storage, query API out) on free loopback
// ports, built once from its Go module by scripts/build-jaeger.sh (or JAEGER_BIN).
import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ManagedProcess, freePort, waitUntil } from '@onpush/sandbox';

const buildScript = fileURLToPath(new URL('../../scripts/build-jaeger.sh', import.meta.url));

/** The jaeger binary: JAEGER_BIN, else the cached build (built now the first time: minutes). */
export function jaegerBinary(): string {
  const given = process.env['JAEGER_BIN'];
  if (given) return given;
  return execFileSync('bash', [buildScript], { encoding: 'utf8', timeout: 1_800_000 }).trim();
}

function config(ports: { otlp: number; http: number; grpc: number; health: number }): string {
  return `service:
  extensions: [jaeger_storage, jaeger_query, healthcheckv2]
  pipelines:
    traces:
      receivers: [otlp]
      processors: [batch]
      exporters: [jaeger_storage_exporter]
  telemetry:
    metrics:
      level: none
    logs:
      level: warn
extensions:
  jaeger_query:
    storage:
      traces: memstore
    http:
      endpoint: 127.0.0.1:${ports.http}
    grpc:
      endpoint: 127.0.0.1:${ports.grpc}
  jaeger_storage:
    backends:
      memstore:
        memory:
          max_traces: 10000
  healthcheckv2:
    use_v2: true
    http:
      endpoint: 127.0.0.1:${ports.health}
receivers:
  otlp:
    protocols:
      http:
        endpoint: 127.0.0.1:${ports.otlp}
processors:
  batch:
    timeout: 100ms
exporters:
  jaeger_storage_exporter:
    trace_storage: memstore
`;
}

export interface JaegerSpan {
  traceID: string;
  spanID: string;
  operationName: string;
  references: { refType: string; traceID: string; spanID: string }[];
  processID: string;
  tags: { key: string; value: unknown }[];
}

export interface JaegerTrace {
  traceID: string;
  spans: JaegerSpan[];
  processes: Record<string, { serviceName: string }>;
}

export class Jaeger {
  private constructor(
    private readonly process: ManagedProcess,
    /** Where services send OTLP/HTTP (OTEL_EXPORTER_OTLP_ENDPOINT). */
    readonly otlpUrl: string,
    /** The query API and UI. */
    readonly queryUrl: string,
  ) {}

  static async start(dir: string): Promise<Jaeger> {
    const binary = jaegerBinary();
    const ports = {
      otlp: await freePort(),
      http: await freePort(),
      grpc: await freePort(),
      health: await freePort(),
    };
    const file = join(dir, 'jaeger.yaml');
    writeFileSync(file, config(ports));
    const process = ManagedProcess.start({
      name: 'jaeger',
      command: binary,
      args: ['--config', `file:${file}`],
      logFile: join(dir, 'jaeger.log'),
    });
    const jaeger = new Jaeger(
      process,
      `http://127.0.0.1:${ports.otlp}`,
      `http://127.0.0.1:${ports.http}`,
    );
    await waitUntil(
      'jaeger query API',
      async () =>
        (await fetch(`${jaeger.queryUrl}/api/services`).catch(() => undefined))?.ok === true,
      { timeoutMs: 60_000, intervalMs: 200 },
    );
    return jaeger;
  }

  /** A trace as Jaeger's query API returns it, or undefined while Jaeger does not have it. */
  async trace(traceId: string): Promise<JaegerTrace | undefined> {
    const res = await fetch(`${this.queryUrl}/api/traces/${traceId}`);
    if (!res.ok) return undefined;
    const body = (await res.json()) as { data?: JaegerTrace[] };
    return body.data?.[0];
  }

  /** The trace ids Jaeger finds for `service` with tag `key=value`. */
  async find(service: string, tags: Record<string, string>): Promise<string[]> {
    const query = new URLSearchParams({ service, tags: JSON.stringify(tags), lookback: '1h' });
    const res = await fetch(`${this.queryUrl}/api/traces?${query.toString()}`);
    if (!res.ok) return [];
    const body = (await res.json()) as { data?: JaegerTrace[] };
    return (body.data ?? []).map((t) => t.traceID);
  }

  async services(): Promise<string[]> {
    const body = (await (await fetch(`${this.queryUrl}/api/services`)).json()) as {
      data?: string[];
    };
    return body.data ?? [];
  }

  stop(): Promise<void> {
    return this.process.stop();
  }
}
