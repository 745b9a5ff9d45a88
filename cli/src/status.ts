// `onpush status`: what an on-call engineer asks first. Each service's health (its /readyz),
// each durable consumer's lag and the DLQ from JetStream itself, the index size from the
// resolver's /metrics, and the fates of the last minute from the outcomes stream.
import {
  FATES,
  FLEET_SERVICES,
  STREAMS,
  TOPOLOGY,
  subjectTail,
  type Fate,
} from '@onpush/contracts';
import {
  connectNats,
  jetstream,
  jetstreamManager,
  scanStream,
  type JetStreamManager,
} from '@onpush/nats';
import { redactUrls } from '@onpush/config';
import { parsePrometheusText, sampleValue } from '@onpush/telemetry';
import { fleetClusters } from './audit-read.js';
import { DEFAULT_PORTS, SERVICES, type ServiceName } from './services.js';

export interface ServiceHealth {
  service: ServiceName;
  url: string;
  /** Answered /readyz with 200. */
  ready: boolean;
  /** The lifecycle state it reported, or why it could not be asked. */
  state: string;
}

export interface ConsumerLag {
  consumer: string;
  /** At a fleet's hub: the cluster whose consumer this is (read through its JetStream domain). */
  cluster?: string;
  stream: string;
  /** Not yet delivered (num_pending). */
  pending: number;
  /** Delivered, not yet acknowledged (num_ack_pending). */
  ackPending: number;
  redelivered: number;
}

export interface StatusReport {
  at: string;
  services: ServiceHealth[];
  /** Undefined when NATS could not be reached (see `problems`). */
  consumers: ConsumerLag[] | undefined;
  dlq: { depth: number; oldestAgeSeconds: number } | undefined;
  /** From the resolver's /metrics; undefined when it did not answer. */
  index: { workloads: number; images: number } | undefined;
  fates: { windowSeconds: number; counts: Record<Fate, number> } | undefined;
  /**
   * At a fleet's hub: its clusters. The hub runs ingest, parser and dlq-manager only, so only
   * they are health-checked; each cluster's consumers are in `consumers` (`cluster` set).
   */
  clusters?: string[];
  problems: string[];
}

export interface StatusOptions {
  natsUrl: string;
  urls: Record<ServiceName, string>;
  windowMs?: number;
  timeoutMs?: number;
  now?: () => Date;
}

/** Where each service answers: `ONPUSH_<SERVICE>_URL` (e.g. ONPUSH_DLQ_MANAGER_URL), else localhost. */
export function serviceUrls(env: NodeJS.ProcessEnv): Record<ServiceName, string> {
  const urls = {} as Record<ServiceName, string>;
  for (const service of SERVICES) {
    const variable = `ONPUSH_${service.toUpperCase().replaceAll('-', '_')}_URL`;
    urls[service] = (env[variable] ?? `http://127.0.0.1:${DEFAULT_PORTS[service]}`).replace(
      /\/+$/,
      '',
    );
  }
  return urls;
}

const message = (error: unknown): string =>
  error instanceof Error ? error.message : String(error);

/** The innermost state of a lifecycle snapshot value (`{active: 'running'}` → `running`). */
export function leafState(value: unknown): string {
  if (typeof value === 'string') return value;
  if (typeof value === 'object' && value !== null) {
    const [first] = Object.entries(value);
    if (first !== undefined) return leafState(first[1]);
  }
  return '?';
}

async function health(service: ServiceName, url: string, timeoutMs: number) {
  try {
    const res = await fetch(`${url}/readyz`, { signal: AbortSignal.timeout(timeoutMs) });
    const body = (await res.json().catch(() => ({}))) as { state?: unknown };
    return { service, url, ready: res.ok, state: leafState(body.state) };
  } catch (error) {
    return { service, url, ready: false, state: `unreachable (${message(error)})` };
  }
}

async function indexSize(url: string, timeoutMs: number): Promise<StatusReport['index']> {
  const res = await fetch(`${url}/metrics`, { signal: AbortSignal.timeout(timeoutMs) });
  if (!res.ok) throw new Error(`${url}/metrics answered ${res.status}`);
  const samples = parsePrometheusText(await res.text());
  const size = (what: string) => sampleValue(samples, 'onpush_resolver_index_size', { what });
  return { workloads: size('workloads'), images: size('images') };
}

async function consumerLags(jsm: JetStreamManager, cluster?: string): Promise<ConsumerLag[]> {
  const lags: ConsumerLag[] = [];
  for (const spec of Object.values(TOPOLOGY.consumers)) {
    const info = await jsm.consumers.info(spec.stream, spec.durable).catch(() => undefined);
    if (info === undefined) continue;
    lags.push({
      consumer: spec.durable,
      ...(cluster === undefined ? {} : { cluster }),
      stream: spec.stream,
      pending: info.num_pending,
      ackPending: info.num_ack_pending,
      redelivered: info.num_redelivered,
    });
  }
  return lags;
}

async function dlqStats(jsm: JetStreamManager, now: Date): Promise<StatusReport['dlq']> {
  const { state } = await jsm.streams.info(STREAMS.dlq);
  const first = Date.parse(state.first_ts);
  const age = state.messages > 0 && !Number.isNaN(first) ? (now.getTime() - first) / 1000 : 0;
  return { depth: state.messages, oldestAgeSeconds: Math.max(0, Math.round(age)) };
}

/** Outcomes stored since `since`, counted by fate; headers only, with an ordered consumer. */
export async function fatesSince(
  js: ReturnType<typeof jetstream>,
  since: Date,
): Promise<Record<Fate, number>> {
  const counts = Object.fromEntries(FATES.map((f) => [f, 0])) as Record<Fate, number>;
  const scan = { since, headersOnly: true, batch: 512, expiresMs: 2_000 };
  for await (const m of scanStream(js, STREAMS.outcomes, scan)) {
    const fate = subjectTail(m.subject, 'onpush.outcome') as Fate | undefined;
    if (fate !== undefined && fate in counts) counts[fate] += 1;
  }
  return counts;
}

async function fromNats(options: StatusOptions, now: Date, report: StatusReport): Promise<void> {
  const nc = await connectNats({ url: options.natsUrl, name: 'onpush-status' }).catch(
    (error: unknown) => {
      report.problems.push(`NATS ${redactUrls(options.natsUrl)}: ${redactUrls(message(error))}`);
      return undefined;
    },
  );
  if (nc === undefined) return;
  try {
    const jsm = await jetstreamManager(nc);
    report.consumers = await consumerLags(jsm);
    // At a fleet's hub, every cluster's consumers too (a cluster cut off is a problem, not a stop).
    const clusters = await fleetClusters(nc).catch(() => []);
    if (clusters.length) report.clusters = clusters;
    for (const cluster of clusters) {
      const lags = await jetstreamManager(nc, { domain: cluster, timeout: 2_000 }, 2_000)
        .then((remote) => consumerLags(remote, cluster))
        .catch((error: unknown) => {
          report.problems.push(`cluster ${cluster}: ${message(error)}`);
          return [];
        });
      report.consumers.push(...lags);
    }
    report.dlq = await dlqStats(jsm, now).catch((error: unknown) => {
      report.problems.push(`DLQ: ${message(error)}`);
      return undefined;
    });
    const windowMs = options.windowMs ?? 60_000;
    const counts = await fatesSince(jetstream(nc), new Date(now.getTime() - windowMs));
    report.fates = { windowSeconds: Math.round(windowMs / 1000), counts };
  } catch (error) {
    report.problems.push(`NATS: ${message(error)}`);
  } finally {
    await nc.close();
  }
}

export async function gatherStatus(options: StatusOptions): Promise<StatusReport> {
  const now = (options.now ?? (() => new Date()))();
  const timeoutMs = options.timeoutMs ?? 2_000;
  const report: StatusReport = {
    at: now.toISOString(),
    services: [],
    consumers: undefined,
    dlq: undefined,
    index: undefined,
    fates: undefined,
    problems: [],
  };
  const [services, index] = await Promise.all([
    Promise.all(SERVICES.map((s) => health(s, options.urls[s], timeoutMs))),
    indexSize(options.urls.resolver, timeoutMs).catch((error: unknown) => {
      report.problems.push(`index size: ${message(error)}`);
      return undefined;
    }),
    fromNats(options, now, report),
  ]);
  report.services = services;
  report.index = index;
  if (report.clusters) {
    // A fleet's hub: the resolver and restarter run in the clusters, not here.
    const here = new Set<string>(FLEET_SERVICES.hub);
    report.services = services.filter((s) => here.has(s.service));
    report.index = undefined;
    report.problems = report.problems.filter((p) => !p.startsWith('index size:'));
  }
  return report;
}
