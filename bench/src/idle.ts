import { readdirSync, readFileSync } from 'node:fs';
import { request } from 'node:https';
import { SERVICES, type ServiceName } from '@onpush/cli';
import type { KubeApiServer } from '@onpush/sandbox';

function httpsText(url: string, token: string, ca: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const req = request(url, { headers: { authorization: `Bearer ${token}` }, ca }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (body += chunk));
      res.on('end', () => resolve(body));
    });
    req.on('error', reject);
    req.end();
  });
}

/**
 * Requests the API server has served on resources, by verb and resource, from its own
 * apiserver_request_total — watches excepted, and the API server's own loops excepted: it renews
 * its identity lease and reconciles the `kubernetes` Service's endpoints every few seconds
 * (leases, endpoints, endpointslices); nothing of onpush touches those resources.
 */
const SELF = new Set(['leases', 'endpoints', 'endpointslices']);

export async function apiRequests(kube: KubeApiServer): Promise<Record<string, number>> {
  const text = await httpsText(
    `${kube.server}/metrics`,
    kube.adminToken,
    readFileSync(kube.caFile, 'utf8'),
  );
  const byVerb: Record<string, number> = {};
  for (const line of text.split('\n')) {
    if (!line.startsWith('apiserver_request_total{')) continue;
    const verb = /verb="([A-Z]+)"/.exec(line)?.[1] ?? '?';
    const resource = /resource="([^"]*)"/.exec(line)?.[1] ?? '';
    if (verb === 'WATCH' || resource === '' || SELF.has(resource)) continue;
    const key = `${verb} ${resource}`;
    byVerb[key] = (byVerb[key] ?? 0) + Number(line.slice(line.lastIndexOf(' ') + 1));
  }
  return byVerb;
}

/**
 * The sum of a service's metric `name` (from its own /metrics) over the series whose labels
 * include every one of `labels` (e.g. `code="409"`).
 */
export async function metricSum(
  port: number,
  name: string,
  labels: readonly string[] = [],
): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
  return text
    .split('\n')
    .filter((l) => l.startsWith(`${name}{`) || l.startsWith(`${name} `))
    .filter((l) => labels.every((label) => l.includes(label)))
    .reduce((sum, l) => sum + Number(l.slice(l.lastIndexOf(' ') + 1)), 0);
}

/** process_cpu_seconds_total of a service, from its own /metrics. */
export const cpuSeconds = (port: number): Promise<number> =>
  metricSum(port, 'process_cpu_seconds_total');

/** CPU seconds each of the five services has used so far. */
export async function servicesCpu(
  ports: Record<ServiceName, number>,
): Promise<Record<ServiceName, number>> {
  const used = await Promise.all(SERVICES.map((s) => cpuSeconds(ports[s])));
  return Object.fromEntries(SERVICES.map((s, i) => [s, used[i]!])) as Record<ServiceName, number>;
}

/** The sum of a record's values (e.g. every service's CPU seconds). */
export const total = (values: Record<string, number>): number =>
  Object.values(values).reduce((a, b) => a + b, 0);

/** CPU seconds (user + system) a process (e.g. nats-server) has used, from /proc. */
export function processCpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  // the fields after the command name (which may hold spaces): utime and stime are 14th and 15th
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100; // clock ticks (USER_HZ, 100)
}

/**
 * What a process asked of the kernel so far: write calls (/proc/PID/io `syscw`: socket sends and
 * disk writes) and wake-ups (voluntary context switches of all its threads: each time a thread
 * slept — an idle event loop, a reply awaited — and was woken). On this machine (a VM in a VM) a
 * wake-up costs some 150–300 µs of CPU (measured: a two-process TCP ping-pong every 20 ms), so at
 * moderate rates these, not the JavaScript, set most of the CPU per push.
 */
export interface ProcessIo {
  writes: number;
  wakeups: number;
}

export function processIo(pid: number): ProcessIo {
  const io = readFileSync(`/proc/${pid}/io`, 'utf8');
  const writes = Number(/^syscw:\s+(\d+)/m.exec(io)?.[1] ?? Number.NaN);
  let wakeups = 0;
  for (const task of readdirSync(`/proc/${pid}/task`)) {
    try {
      const status = readFileSync(`/proc/${pid}/task/${task}/status`, 'utf8');
      wakeups += Number(/^voluntary_ctxt_switches:\s+(\d+)/m.exec(status)?.[1] ?? 0);
    } catch {
      // the thread ended between the listing and the read
    }
  }
  return { writes, wakeups };
}

export function diff(
  after: Record<string, number>,
  before: Record<string, number>,
): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [k, v] of Object.entries(after)) {
    const d = v - (before[k] ?? 0);
    if (d > 0) out[k] = d;
  }
  return out;
}
