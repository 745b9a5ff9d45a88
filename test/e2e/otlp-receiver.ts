// A minimal OTLP/HTTP receiver for tests: accepts `POST /v1/traces` in the OTLP JSON encoding
// (OTEL_EXPORTER_OTLP_PROTOCOL=http/json) and keeps every span, flattened with the service name
// of its resource, the way a tracing backend would show it.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { gunzipSync } from 'node:zlib';

/** OTLP span kinds. */
export const KIND = { internal: 1, server: 2, client: 3, producer: 4, consumer: 5 } as const;
/** OTLP status codes. */
export const STATUS = { unset: 0, ok: 1, error: 2 } as const;

export type Value = string | number | boolean | Value[] | undefined;

export interface ReceivedSpan {
  service: string;
  /** Its resource's attributes (`service.name`, `k8s.cluster.name`, ...). */
  resource: Record<string, Value>;
  traceId: string;
  spanId: string;
  parentSpanId: string | undefined;
  name: string;
  kind: number;
  startMs: number;
  endMs: number;
  attributes: Record<string, Value>;
  status: { code: number; message?: string };
  links: { traceId: string; spanId: string }[];
}

interface AnyValue {
  stringValue?: string;
  intValue?: string | number;
  doubleValue?: number;
  boolValue?: boolean;
  arrayValue?: { values?: AnyValue[] };
}
interface KeyValue {
  key: string;
  value: AnyValue;
}
interface OtlpSpan {
  traceId: string;
  spanId: string;
  parentSpanId?: string;
  name: string;
  kind: number;
  startTimeUnixNano: string | number;
  endTimeUnixNano: string | number;
  attributes?: KeyValue[];
  status?: { code?: number; message?: string };
  links?: { traceId: string; spanId: string }[];
}
interface ExportRequest {
  resourceSpans?: {
    resource?: { attributes?: KeyValue[] };
    scopeSpans?: { spans?: OtlpSpan[] }[];
  }[];
}

function valueOf(value: AnyValue): Value {
  if (value.stringValue !== undefined) return value.stringValue;
  if (value.intValue !== undefined) return Number(value.intValue);
  if (value.doubleValue !== undefined) return value.doubleValue;
  if (value.boolValue !== undefined) return value.boolValue;
  if (value.arrayValue !== undefined) return (value.arrayValue.values ?? []).map(valueOf);
  return undefined;
}

function attributesOf(list: KeyValue[] | undefined): Record<string, Value> {
  return Object.fromEntries((list ?? []).map((kv) => [kv.key, valueOf(kv.value)]));
}

const ms = (nanos: string | number): number => Number(BigInt(nanos) / 1_000_000n);

function flatten(request: ExportRequest): ReceivedSpan[] {
  const spans: ReceivedSpan[] = [];
  for (const resourceSpans of request.resourceSpans ?? []) {
    const resource = attributesOf(resourceSpans.resource?.attributes);
    const service = String(resource['service.name']);
    for (const scope of resourceSpans.scopeSpans ?? []) {
      for (const span of scope.spans ?? []) {
        spans.push({
          service,
          resource,
          traceId: span.traceId,
          spanId: span.spanId,
          parentSpanId: span.parentSpanId || undefined,
          name: span.name,
          kind: span.kind,
          startMs: ms(span.startTimeUnixNano),
          endMs: ms(span.endTimeUnixNano),
          attributes: attributesOf(span.attributes),
          status: { code: span.status?.code ?? 0, ...span.status },
          links: (span.links ?? []).map(({ traceId, spanId }) => ({ traceId, spanId })),
        });
      }
    }
  }
  return spans;
}

export interface ReceiverOptions {
  /** Keep nothing but counts (any encoding accepted): a cheap sink for overhead measurements. */
  discard?: boolean;
}

export class OtlpReceiver {
  readonly spans: ReceivedSpan[] = [];
  /** Export requests received, and their bytes. */
  requests = 0;
  bytes = 0;
  /** Export requests that were not OTLP JSON (a misconfigured exporter shows up here). */
  readonly rejected: string[] = [];
  private readonly server: Server;
  private port = 0;

  private constructor(private readonly options: ReceiverOptions) {
    this.server = createServer((req, res) => this.receive(req, res));
  }

  static async start(options: ReceiverOptions = {}): Promise<OtlpReceiver> {
    const receiver = new OtlpReceiver(options);
    await new Promise<void>((resolve) => receiver.server.listen(0, '127.0.0.1', resolve));
    const address = receiver.server.address();
    receiver.port = typeof address === 'object' && address !== null ? address.port : 0;
    return receiver;
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  private receive(req: IncomingMessage, res: ServerResponse): void {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => {
      this.bytes += chunk.length;
      if (!this.options.discard) chunks.push(chunk);
    });
    req.on('end', () => {
      this.requests += 1;
      if (this.options.discard) {
        res.writeHead(200).end();
        return;
      }
      let body = Buffer.concat(chunks);
      if (req.headers['content-encoding'] === 'gzip') body = gunzipSync(body);
      const type = req.headers['content-type'] ?? '';
      if (req.url !== '/v1/traces' || !type.startsWith('application/json')) {
        this.rejected.push(`${req.method} ${req.url} ${type}`);
        res.writeHead(415).end();
        return;
      }
      this.spans.push(...flatten(JSON.parse(body.toString('utf8')) as ExportRequest));
      res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
    });
  }

  /** The environment that makes a service export here, fast. */
  env(): NodeJS.ProcessEnv {
    return {
      OTEL_EXPORTER_OTLP_ENDPOINT: this.url,
      OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json',
      OTEL_BSP_SCHEDULE_DELAY: '100',
    };
  }

  trace(traceId: string): ReceivedSpan[] {
    return this.spans.filter((s) => s.traceId === traceId);
  }

  close(): Promise<void> {
    return new Promise((resolve) => this.server.close(() => resolve()));
  }
}

/** The one span matching `where`; throws naming the candidates when there are none or several. */
export function one(spans: readonly ReceivedSpan[], where: Partial<ReceivedSpan>): ReceivedSpan {
  const found = spans.filter((s) =>
    Object.entries(where).every(([k, v]) => s[k as keyof ReceivedSpan] === v),
  );
  if (found.length !== 1) {
    const seen = spans.map((s) => `${s.service}: ${s.name}`).join('\n  ');
    throw new Error(`${found.length} spans match ${JSON.stringify(where)}; spans:\n  ${seen}`);
  }
  return found[0]!;
}
