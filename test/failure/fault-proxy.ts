// A fault-injecting proxy in front of the real kube-apiserver. It terminates TLS on
// 127.0.0.1:<port> with the API server's own serving certificate and key (the sandbox's, made for
// 127.0.0.1), so a client keeps its kubeconfig's CA and bearer token and only changes `server`;
// it forwards over TLS to the API server, trusting that CA. It may answer 429 with Retry-After,
// 500 or 409 itself, reset the connection before forwarding, reset it after the API server
// answered (the write is applied but the client never learns it), or add latency.
//
// Faults follow a fixed schedule per HTTP method — in every `period` requests of a method, each
// listed fault once, evenly spaced — so the rates are exact, every kind really happens in a run
// of a known size, and a run does not depend on luck. Each injection is counted.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { Agent, createServer, request, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { readFileSync } from 'node:fs';

export const FAULT_KINDS = [
  'throttled',
  'server_error',
  'conflict',
  'reset_before',
  'reset_after',
  'latency',
] as const;
export type FaultKind = (typeof FAULT_KINDS)[number];
/** The faults that replace or cut the answer (latency only delays it). */
export type AnsweringFault = Exclude<FaultKind, 'latency'>;

export interface FaultPlan {
  /** Requests per cycle of the schedule, per method. */
  period: number;
  /**
   * The faults of one cycle, per HTTP method (`GET`, `PATCH`, ...): each once per `period`
   * requests of that method, evenly spaced. `conflict` (409) belongs on writes.
   */
  faults: Readonly<Record<string, readonly AnsweringFault[]>>;
  /** Retry-After of a 429, seconds. */
  retryAfterSeconds?: number;
  /** Every this-many requests (any method) wait `latencyMs` (cycling 1/4, 2/4, ... of it). */
  latencyEvery?: number;
  latencyMs?: number;
  /**
   * After a fault on a resource, its next this-many requests pass (a due fault waits for another
   * resource): a retry gets through, so recovery is not a race against the broker's
   * max_deliver and its growing redelivery delays.
   */
  passesAfterFault?: number;
}

export interface FaultProxyOptions {
  /** The API server, e.g. https://127.0.0.1:6443. */
  target: string;
  /** The API server's CA bundle; also the proxy's certificate chain, with `keyFile`. */
  caFile: string;
  /** The key of the API server's serving certificate (apiserver.key beside apiserver.crt). */
  keyFile: string;
  plan: FaultPlan;
}

const REASONS: Record<number, string> = {
  409: 'Conflict',
  429: 'TooManyRequests',
  500: 'InternalError',
};

function sendStatus(res: ServerResponse, code: number, headers: Record<string, string> = {}): void {
  const body = JSON.stringify({
    kind: 'Status',
    apiVersion: 'v1',
    metadata: {},
    status: 'Failure',
    message: `injected by the fault proxy: ${code}`,
    reason: REASONS[code] ?? 'Unknown',
    code,
  });
  res.writeHead(code, {
    'content-type': 'application/json',
    'content-length': Buffer.byteLength(body),
    ...headers,
  });
  res.end(body);
}

const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'proxy-connection', 'transfer-encoding']);

export class FaultProxy {
  readonly injected: Record<FaultKind, number> = {
    throttled: 0,
    server_error: 0,
    conflict: 0,
    reset_before: 0,
    reset_after: 0,
    latency: 0,
  };
  /** Writes the API server applied whose answer the proxy then cut (reset_after on PATCH). */
  lostWriteAnswers = 0;
  /** Requests that reached the API server. */
  forwarded = 0;
  private readonly plan: FaultPlan;
  private requests = 0;
  /** Requests seen per method, and faults due but not yet injected. */
  private readonly perMethod = new Map<string, { seen: number; due: AnsweringFault[] }>();
  /** Requests still owed a pass, per resource. */
  private readonly owed = new Map<string, number>();
  private readonly target: URL;
  private readonly agent: Agent;

  private constructor(
    private readonly server: Server,
    options: FaultProxyOptions,
  ) {
    this.plan = options.plan;
    this.target = new URL(options.target);
    this.agent = new Agent({ ca: readFileSync(options.caFile), keepAlive: true });
  }

  static async start(options: FaultProxyOptions): Promise<FaultProxy> {
    const tls = { cert: readFileSync(options.caFile), key: readFileSync(options.keyFile) };
    const server = createServer(tls);
    const proxy = new FaultProxy(server, options);
    server.on('request', (req: IncomingMessage, res: ServerResponse) => {
      // A client that goes away mid-request only ends its own connection.
      proxy.handle(req, res).catch(() => req.socket.destroy());
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    return proxy;
  }

  /** `https://127.0.0.1:<port>`: the `server` of a kubeconfig. */
  get url(): string {
    return `https://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  async close(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
    this.agent.destroy();
  }

  /** The answering fault for this request, per the schedule (undefined: it passes). */
  private faultFor(req: IncomingMessage): AnsweringFault | undefined {
    const method = req.method ?? 'GET';
    const cycle = this.plan.faults[method] ?? [];
    const state = this.perMethod.get(method) ?? { seen: 0, due: [] };
    this.perMethod.set(method, state);
    const position = state.seen % this.plan.period;
    state.seen += 1;
    const spacing = Math.max(1, Math.floor(this.plan.period / Math.max(1, cycle.length)));
    const slot = position % spacing === spacing - 1 ? Math.floor(position / spacing) : -1;
    const scheduled = cycle[slot];
    if (scheduled !== undefined) state.due.push(scheduled);
    const key = (req.url ?? '').split('?')[0] ?? '';
    const owed = this.owed.get(key) ?? 0;
    if (owed > 0) {
      this.owed.set(key, owed - 1);
      return undefined;
    }
    const fault = state.due.shift();
    if (fault !== undefined) this.owed.set(key, this.plan.passesAfterFault ?? 0);
    return fault;
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const body = await readAll(req);
    const fault = this.faultFor(req);
    this.requests += 1;
    const every = this.plan.latencyEvery ?? 0;
    if (every > 0 && this.requests % every === 0) {
      this.injected.latency += 1;
      const quarter = ((this.requests / every) % 4) + 1;
      await new Promise((resolve) =>
        setTimeout(resolve, ((this.plan.latencyMs ?? 200) * quarter) / 4),
      );
    }
    if (fault !== undefined && fault !== 'reset_after') this.injected[fault] += 1;
    switch (fault) {
      case 'throttled':
        return sendStatus(res, 429, { 'retry-after': String(this.plan.retryAfterSeconds ?? 1) });
      case 'server_error':
        return sendStatus(res, 500);
      case 'conflict':
        return sendStatus(res, 409);
      case 'reset_before':
        req.socket.destroy();
        return;
      default:
        return this.forward(req, res, body, fault === 'reset_after');
    }
  }

  private forward(
    req: IncomingMessage,
    res: ServerResponse,
    body: Buffer,
    resetAfter: boolean,
  ): Promise<void> {
    const headers: Record<string, string | string[]> = {};
    for (const [name, value] of Object.entries(req.headers)) {
      if (value !== undefined && !HOP_BY_HOP.has(name)) headers[name] = value;
    }
    headers['host'] = this.target.host;
    headers['content-length'] = String(body.length);
    return new Promise((resolve) => {
      const upstream = request(
        new URL(req.url ?? '/', this.target),
        { method: req.method ?? 'GET', headers, agent: this.agent },
        (answer) => {
          this.forwarded += 1;
          answer.once('error', () => {
            req.socket.destroy();
            resolve();
          });
          if (resetAfter) {
            // Let the API server finish (the write is applied), then drop the client's connection.
            answer.resume();
            answer.once('end', () => {
              this.injected.reset_after += 1;
              if (req.method !== 'GET' && (answer.statusCode ?? 0) < 300)
                this.lostWriteAnswers += 1;
              req.socket.destroy();
              resolve();
            });
            return;
          }
          const out: Record<string, string | string[]> = {};
          for (const [name, value] of Object.entries(answer.headers)) {
            if (value !== undefined && !HOP_BY_HOP.has(name)) out[name] = value;
          }
          res.writeHead(answer.statusCode ?? 502, out);
          answer.pipe(res);
          answer.once('end', () => resolve());
        },
      );
      upstream.once('error', () => {
        // The API server is unreachable: the client sees its connection reset, as it would.
        req.socket.destroy();
        resolve();
      });
      upstream.end(body);
    });
  }
}

async function readAll(req: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of req as AsyncIterable<Buffer>) chunks.push(chunk);
  return Buffer.concat(chunks);
}
