// What an on-call engineer asks first — `onpush status` prints it, the console's health view shows
// it. Each service's health (its /readyz), each durable consumer's lag and the DLQ from JetStream
// itself, the index size from the resolver's /metrics, and the fates of the last minute from the
// outcomes stream. One collection for both; the CLI's tables are in cli/src/status-format.ts.
import {
  FATES,
  FLEET_SERVICES,
  FLEET_WAVE_GATES,
  STAGES,
  STREAMS,
  TOPOLOGY,
  subjectTail,
  type ConsumerSpec,
  type Fate,
} from '@onpush/contracts';
import {
  connectNats,
  fleetClusters,
  jetstream,
  jetstreamManager,
  scanStream,
  type JetStreamManager,
  type NatsConnection,
} from '@onpush/nats';
import { redactUrls } from '@onpush/config';
import { parsePrometheusText, sampleValue } from '@onpush/telemetry';

export const SERVICES = STAGES;
export type ServiceName = (typeof SERVICES)[number];

/** Default health/metrics ports when several services share one machine. */
export const DEFAULT_PORTS: Readonly<Record<ServiceName, number>> = {
  ingest: 8081,
  parser: 8082,
  resolver: 8083,
  restarter: 8084,
  'dlq-manager': 8085,
};

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
  /** A connection to use instead of connecting to `natsUrl` (left open). */
  nc?: NatsConnection;
  /** Where each service answers; a service without a URL is reported `not configured`. */
  urls: Partial<Record<ServiceName, string>>;
  /** The services that run here (default all five; a fleet cluster runs FLEET_SERVICES.cluster). */
  services?: readonly ServiceName[];
  windowMs?: number;
  timeoutMs?: number;
  now?: () => Date;
}

/** The variable that says where `service` answers: ONPUSH_<SERVICE>_URL (ONPUSH_DLQ_MANAGER_URL). */
export const serviceUrlVariable = (service: ServiceName): string =>
  `ONPUSH_${service.toUpperCase().replaceAll('-', '_')}_URL`;

/** Where each service answers: `ONPUSH_<SERVICE>_URL` (e.g. ONPUSH_DLQ_MANAGER_URL), else localhost. */
export function serviceUrls(env: NodeJS.ProcessEnv): Record<ServiceName, string> {
  const urls = {} as Record<ServiceName, string>;
  for (const service of SERVICES) {
    const url = env[serviceUrlVariable(service)] ?? `http://127.0.0.1:${DEFAULT_PORTS[service]}`;
    urls[service] = url.replace(/\/+$/, '');
  }
  return urls;
}

/** Only the services whose ONPUSH_<SERVICE>_URL is set (a service in a cluster: no localhost). */
export function configuredServiceUrls(
  env: NodeJS.ProcessEnv,
): Partial<Record<ServiceName, string>> {
  const all = serviceUrls(env);
  return Object.fromEntries(
    SERVICES.filter((s) => env[serviceUrlVariable(s)]).map((s) => [s, all[s]]),
  );
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

async function health(
  service: ServiceName,
  url: string | undefined,
  timeoutMs: number,
): Promise<ServiceHealth> {
  if (url === undefined) {
    return {
      service,
      url: '',
      ready: false,
      state: `not configured (${serviceUrlVariable(service)})`,
    };
  }
  try {
    const res = await fetch(`${url}/readyz`, { signal: AbortSignal.timeout(timeoutMs) });
    const body = (await res.json().catch(() => ({}))) as { state?: unknown };
    return { service, url, ready: res.ok, state: leafState(body.state) };
  } catch (error) {
    return { service, url, ready: false, state: `unreachable (${message(error)})` };
  }
}

async function indexSize(
  url: string | undefined,
  timeoutMs: number,
): Promise<StatusReport['index']> {
  if (url === undefined)
    throw new Error(`the resolver's URL is not configured (ONPUSH_RESOLVER_URL)`);
  const res = await fetch(`${url}/metrics`, { signal: AbortSignal.timeout(timeoutMs) });
  if (!res.ok) throw new Error(`${url}/metrics answered ${res.status}`);
  const samples = parsePrometheusText(await res.text());
  const size = (what: string) => sampleValue(samples, 'onpush_resolver_index_size', { what });
  return { workloads: size('workloads'), images: size('images') };
}

async function consumerLags(
  jsm: JetStreamManager,
  cluster?: string,
  more: readonly ConsumerSpec[] = [],
): Promise<ConsumerLag[]> {
  const lags: ConsumerLag[] = [];
  for (const spec of [...Object.values(TOPOLOGY.consumers), ...more]) {
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
  const nc =
    options.nc ??
    (await connectNats({ url: options.natsUrl, name: 'onpush-status' }).catch((error: unknown) => {
      report.problems.push(`NATS ${redactUrls(options.natsUrl)}: ${redactUrls(message(error))}`);
      return undefined;
    }));
  if (nc === undefined) return;
  try {
    const jsm = await jetstreamManager(nc);
    // At a fleet's hub, its wave gates (what each holds back) and every cluster's consumers too
    // (a cluster cut off is a problem, not a stop).
    const clusters = await fleetClusters(nc).catch(() => []);
    report.consumers = await consumerLags(jsm, undefined, clusters.length ? FLEET_WAVE_GATES : []);
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
    if (options.nc === undefined) await nc.close();
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
    Promise.all((options.services ?? SERVICES).map((s) => health(s, options.urls[s], timeoutMs))),
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
