// The cluster side of the failure tests: a fleet of opted-in Deployments, the restarter's
// least-privilege identity, and what the cluster shows afterwards — each workload's digest, and
// the PATCHes the kube-apiserver's own audit log recorded.
import { createHash } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { RbacAuthorizationV1Api } from '@kubernetes/client-node';
import { ANNOTATIONS, kubeClients, loadKubeConfig, type KubeClients } from '@onpush/kube';
import type { Outcome } from '@onpush/contracts';
import {
  auditedDeploymentWrites,
  kubeconfig,
  type AuditedWrite,
  type Sandbox,
} from '@onpush/sandbox';
import {
  deployment,
  ensureNamespaces,
  grantRestarter as grantRestarterIn,
  restarterIdentity,
} from '../support/kube.js';

export const REGISTRY = 'europe-west1-docker.pkg.dev/onpush-failure/storm';
export const TAG = '1.0';

/** A deterministic sha256 digest for (image, n). */
export function digestOf(image: string, n: number): string {
  return `sha256:${createHash('sha256').update(`${image}#${n}`).digest('hex')}`;
}

export interface Workload {
  namespace: string;
  name: string;
  /** The repository it runs, `<REGISTRY>/<app>`, at tag TAG. */
  image: string;
}

export interface Fleet {
  namespaces: string[];
  images: string[];
  workloads: Workload[];
}

/**
 * `workloads` Deployments over `namespaces` namespaces; every image is run by `perImage`
 * workloads, each in a different namespace when there are enough.
 */
export function planFleet(options: {
  workloads: number;
  perImage: number;
  namespaces: string[];
  prefix?: string;
}): Fleet {
  const { workloads, perImage, namespaces, prefix = 'app' } = options;
  const images: string[] = [];
  const list: Workload[] = [];
  for (let j = 0; j < workloads; j += 1) {
    const i = Math.floor(j / perImage);
    const image = `${REGISTRY}/${prefix}-${i}`;
    if (images[i] === undefined) images[i] = image;
    const namespace = namespaces[j % namespaces.length]!;
    list.push({ namespace, name: `${prefix}-w${j}`, image });
  }
  return { namespaces, images, workloads: list };
}

export const keyOf = (w: { namespace: string; name: string }): string => `${w.namespace}/${w.name}`;

export function adminKube(sandbox: Sandbox): KubeClients {
  return kubeClients(loadKubeConfig(sandbox.need('kube').kubeconfigPath));
}

/** Runs `task` over `items`, at most `limit` at once. */
export async function pool<T>(
  items: readonly T[],
  limit: number,
  task: (item: T) => Promise<void>,
): Promise<void> {
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) {
      const item = items[next]!;
      next += 1;
      await task(item);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
}

/**
 * Creates the namespaces (once, with `onpush`, where the resolver keeps its snapshot) and the
 * fleet's Deployments, opted in to onpush.
 */
export async function createFleet(kube: KubeClients, fleet: Fleet): Promise<void> {
  await ensureNamespaces(kube, ['onpush', ...fleet.namespaces]);
  await pool(fleet.workloads, 8, async (w) => {
    await kube.apps.createNamespacedDeployment({
      namespace: w.namespace,
      body: deployment(w.name, `${w.image}:${TAG}`, { replicas: 1 }),
    });
  });
}

const rbacOf = (sandbox: Sandbox): RbacAuthorizationV1Api =>
  loadKubeConfig(sandbox.need('kube').kubeconfigPath).makeApiClient(RbacAuthorizationV1Api);

/**
 * A ServiceAccount `onpush/restarter` allowed to get and patch Deployments in `namespaces`
 * only (least privilege); returns its token. Creates namespace `onpush` if missing.
 */
export async function restarterToken(
  sandbox: Sandbox,
  namespaces: readonly string[],
): Promise<string> {
  const kube = adminKube(sandbox);
  await ensureNamespaces(kube, ['onpush']);
  return restarterIdentity(kube, rbacOf(sandbox), namespaces);
}

/** The RoleBinding that lets the restarter's ServiceAccount restart in `namespace`. */
export async function grantRestarter(sandbox: Sandbox, namespace: string): Promise<void> {
  await grantRestarterIn(rbacOf(sandbox), namespace);
}

/** A kubeconfig file for `server` with a bearer token (a ServiceAccount's, through a proxy). */
export function tokenKubeconfig(
  sandbox: Sandbox,
  name: string,
  server: string,
  token: string,
): string {
  const path = join(sandbox.dir, `${name}.kubeconfig`);
  writeFileSync(path, kubeconfig(server, sandbox.need('kube').caFile, token));
  return path;
}

/** The digest annotation of every workload of the fleet, by `<namespace>/<name>`. */
export async function digestsOf(kube: KubeClients, fleet: Fleet): Promise<Map<string, string>> {
  const found = new Map<string, string>();
  for (const ns of fleet.namespaces) {
    const list = await kube.apps.listNamespacedDeployment({ namespace: ns });
    for (const d of list.items) {
      const digest = d.spec?.template.metadata?.annotations?.[ANNOTATIONS.digest];
      found.set(`${ns}/${d.metadata?.name ?? ''}`, digest ?? '');
    }
  }
  return found;
}

/** Workloads whose digest annotation is not the last digest pushed for their image. */
export async function staleWorkloads(
  kube: KubeClients,
  fleet: Fleet,
  last: Map<string, string>,
): Promise<string[]> {
  const found = await digestsOf(kube, fleet);
  return fleet.workloads
    .filter((w) => found.get(keyOf(w)) !== last.get(w.image))
    .map(
      (w) =>
        `${keyOf(w)}: has ${found.get(keyOf(w)) || 'no digest'}, last pushed ${last.get(w.image)}`,
    );
}

/**
 * From the API server's audit log: applied PATCHes per (workload, digest) — the count of
 * restarts the cluster really saw, whatever onpush believes.
 */
export function auditedRestarts(sandbox: Sandbox): Map<string, number> {
  const counts = new Map<string, number>();
  for (const w of auditedDeploymentWrites(sandbox.need('kube').auditLogPath)) {
    if (w.verb !== 'patch' || w.code !== 200) continue;
    const key = `${w.namespace}/${w.name} ${w.templateAnnotations[ANNOTATIONS.digest] ?? '-'}`;
    counts.set(key, (counts.get(key) ?? 0) + 1);
  }
  return counts;
}

/** (workload, digest) pairs the API server patched more than once. */
export function patchedTwice(sandbox: Sandbox): string[] {
  return [...auditedRestarts(sandbox)].filter(([, n]) => n > 1).map(([k, n]) => `${k} ×${n}`);
}

/**
 * Workloads whose last digest the API server did not patch exactly once. Given the outcomes
 * (the ledger), each names what the API server and onpush saw of that workload, so a failure
 * says why without a second run.
 */
export function finalPatchNotOnce(
  sandbox: Sandbox,
  fleet: Fleet,
  last: Map<string, string>,
  outcomes?: readonly Outcome[],
): string[] {
  const restarts = auditedRestarts(sandbox);
  const failing = fleet.workloads
    .map((w) => ({ w, key: `${keyOf(w)} ${last.get(w.image) ?? '-'}` }))
    .filter(({ key }) => restarts.get(key) !== 1);
  // the audit log is read again only to explain a failure, and then once
  const writes =
    outcomes && failing.length > 0
      ? auditedDeploymentWrites(sandbox.need('kube').auditLogPath)
      : [];
  return failing.map(({ w, key }) => {
    const line = `${key} patched ${restarts.get(key) ?? 0} times`;
    return outcomes === undefined ? line : `${line}\n${historyOf(w, writes, outcomes)}`;
  });
}

const short = (digest: string | undefined): string => (digest ?? '-').slice(7, 19);

/** The audited writes to a workload and onpush's outcomes for it and its image, oldest first. */
function historyOf(w: Workload, audited: readonly AuditedWrite[], outcomes: readonly Outcome[]) {
  const writes = audited
    .filter((a) => a.namespace === w.namespace && a.name === w.name)
    .map(
      (a) => `  ${a.at} ${a.verb} ${a.code} ${short(a.templateAnnotations[ANNOTATIONS.digest])}`,
    );
  const mine = outcomes
    .filter((o) =>
      o.workload
        ? o.workload.namespace === w.namespace && o.workload.name === w.name
        : o.image === w.image,
    )
    .map(
      (o) =>
        `  ${o.at} ${o.eventId} ${o.fate}${o.workload ? '' : ' (event)'} ${short(o.digest)}` +
        `${o.pushedAt ? ` pushed ${o.pushedAt}` : ''} ${o.reason ?? ''} ${o.detail ?? ''}`,
    )
    .sort();
  return [' audited:', ...writes, ' outcomes:', ...mine].join('\n');
}
