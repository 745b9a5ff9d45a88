import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  ApiextensionsV1Api,
  AuthorizationV1Api,
  CoreV1Api,
  CustomObjectsApi,
  KubernetesObjectApi,
  PatchStrategy,
  loadAllYaml,
  loadYaml,
  type V1ConfigMap,
  type V1Deployment,
  type V1PodDisruptionBudget,
  type V1StatefulSet,
  type V2HorizontalPodAutoscaler,
} from '@kubernetes/client-node';
import { FLEET_SERVICES, LEAF_LINK, TOPOLOGY, type NatsIdentity } from '@onpush/contracts';
import { loadKubeConfig } from '@onpush/kube';
import {
  LEAF_CLUSTER_SECRET_NAME,
  LEAF_HUB_SECRET_NAME,
  SERVER_SECRET_NAME,
  credentialSecrets,
  ensureCredentials,
  ensureLeafCredentials,
  ensureTls,
  identitySecretName,
} from '@onpush/nats';
import { CLUSTER_NAME, NATS_SERVER_VERSION, cacheDir, findNatsServer } from '@onpush/sandbox';
import { eventually, useSandbox } from '@onpush/testing';
import {
  OPERATOR_CRDS,
  canAccess,
  expectedRules,
  mountedIdentities,
  consoleReach,
  networkPosture,
  ownRules,
  ofKind,
  podTemplates,
  reason,
  refusedPods,
  serviceFindings,
  type Obj,
} from '../support/k8s-objects.js';

const run = promisify(execFile);
const ROOT = resolve(import.meta.dirname, '..', '..');
const OVERLAYS = ['small', 'production', 'fleet-hub', 'fleet-cluster'] as const;
type Overlay = (typeof OVERLAYS)[number];
const SERVICES = ['ingest', 'parser', 'resolver', 'restarter', 'dlq-manager'] as const;
/** The services an overlay runs: a fleet's hub and clusters each run some. */
const servicesOf = (overlay: Overlay): readonly string[] =>
  overlay === 'fleet-hub'
    ? FLEET_SERVICES.hub
    : overlay === 'fleet-cluster'
      ? FLEET_SERVICES.cluster
      : SERVICES;
/** What takes traffic from anywhere: ingest, and a fleet hub's leaf-node port. */
const OPEN_TO_ALL: Record<Overlay, string[]> = {
  small: ['ingest'],
  production: ['ingest'],
  'fleet-hub': ['ingest', 'nats-leaf'],
  'fleet-cluster': [],
};
const NAMESPACE = 'onpush';
const FIELD_MANAGER = 'onpush-manifests-test';

interface ScaledObject extends Obj {
  spec: {
    scaleTargetRef: { name: string };
    triggers: { type: string; metadata: Record<string, string> }[];
  };
}

function onPath(name: string): string | undefined {
  return (process.env['PATH'] ?? '')
    .split(delimiter)
    .map((dir) => join(dir, name))
    .find((file) => existsSync(file));
}

/** kubectl's built-in kustomize, or the one scripts/install-deploy-tools.sh built from Go. */
function kustomize(dir: string): [string, string[]] {
  if (onPath('kubectl')) return ['kubectl', ['kustomize', dir]];
  const installed = onPath('kustomize');
  if (installed) return [installed, ['build', dir]];
  const built = join(cacheDir(), 'tools', 'bin', 'kustomize');
  if (existsSync(built)) return [built, ['build', dir]];
  throw new Error(
    'kustomize not found: neither kubectl nor kustomize on PATH, nor ' +
      `${built}. Run scripts/install-deploy-tools.sh (npm test runs it).`,
  );
}

async function build(overlay: Overlay): Promise<Obj[]> {
  const [command, args] = kustomize(join(ROOT, 'k8s', 'overlays', overlay));
  const { stdout } = await run(command, args, { maxBuffer: 16 * 1024 * 1024 });
  return (loadAllYaml(stdout) as (Obj | null)[]).filter((o): o is Obj => o !== null);
}

/** [ServiceAccount, verb, resource(.group), namespace ('' = every namespace), allowed, name] */
type Access = [string, string, string, string, boolean, string?];
const ACCESS: Access[] = [
  ['restarter', 'get', 'deployments.apps', 'shop', true],
  ['restarter', 'patch', 'deployments.apps', 'shop', true],
  ['restarter', 'patch', 'deployments.apps', 'default', true],
  ['restarter', 'patch', 'statefulsets.apps', 'shop', true],
  ['restarter', 'patch', 'cronjobs.batch', 'shop', true],
  ['restarter', 'patch', 'rollouts.argoproj.io', 'shop', true],
  ['restarter', 'watch', 'deployments.apps', 'shop', true],
  ['restarter', 'watch', 'cronjobs.batch', 'shop', false],
  ['restarter', 'list', 'deployments.apps', 'shop', false],
  ['restarter', 'get', 'secrets', 'shop', false],
  ['restarter', 'get', 'secrets', NAMESPACE, false],
  ['restarter', 'update', 'configmaps', NAMESPACE, false],
  ['restarter', 'delete', 'deployments.apps', 'shop', false],
  ['restarter', 'list', 'pods', 'shop', false],
  // Events about what it did: created, never read back, changed or deleted (nor core/v1 ones)
  ['restarter', 'create', 'events.events.k8s.io', 'shop', true],
  ['restarter', 'update', 'events.events.k8s.io', 'shop', false],
  ['restarter', 'delete', 'events.events.k8s.io', 'shop', false],
  ['restarter', 'list', 'events.events.k8s.io', 'shop', false],
  ['resolver', 'create', 'events.events.k8s.io', 'shop', false],
  ['resolver', 'list', 'deployments.apps', '', true],
  ['resolver', 'watch', 'deployments.apps', '', true],
  ['resolver', 'watch', 'statefulsets.apps', '', true],
  ['resolver', 'watch', 'cronjobs.batch', '', true],
  ['resolver', 'watch', 'rollouts.argoproj.io', '', true],
  // The index snapshot's shards, by name; no other ConfigMap of its namespace, and no list.
  ['resolver', 'get', 'configmaps', NAMESPACE, true, 'onpush-image-index'],
  ['resolver', 'get', 'configmaps', NAMESPACE, true, 'onpush-image-index-15'],
  ['resolver', 'update', 'configmaps', NAMESPACE, true, 'onpush-image-index-1'],
  ['resolver', 'delete', 'configmaps', NAMESPACE, true, 'onpush-image-index-2'],
  ['resolver', 'create', 'configmaps', NAMESPACE, true],
  ['resolver', 'get', 'configmaps', NAMESPACE, false, 'nats-config'],
  ['resolver', 'get', 'configmaps', NAMESPACE, false, 'onpush-config'],
  ['resolver', 'get', 'configmaps', NAMESPACE, false, 'onpush-image-index-16'],
  ['resolver', 'update', 'configmaps', NAMESPACE, false, 'onpush-config'],
  ['resolver', 'get', 'configmaps', NAMESPACE, false],
  ['resolver', 'list', 'configmaps', NAMESPACE, false],
  ['resolver', 'watch', 'configmaps', NAMESPACE, false],
  ['resolver', 'update', 'configmaps', 'default', false, 'onpush-image-index'],
  ['resolver', 'list', 'configmaps', '', false],
  ['resolver', 'patch', 'deployments.apps', 'shop', false],
  ['resolver', 'get', 'secrets', NAMESPACE, false],
  ['resolver', 'list', 'secrets', '', false],
  ...['ingest', 'parser', 'dlq-manager'].flatMap((sa): Access[] => [
    ...['deployments.apps', 'configmaps', 'pods', 'secrets', 'namespaces'].map(
      (resource): Access => [sa, 'list', resource, '', false],
    ),
    [sa, 'get', 'configmaps', NAMESPACE, false],
  ]),
];

// Given the shipped overlays, docker-compose.yml and scripts/build-nats-server.sh, which builds
// the nats-server the tests and the sandbox run.
describe('the NATS release onpush ships', () => {
  it('is the one the tests run: one version in k8s, docker-compose.yml and the build script', async () => {
    const image = `nats:${NATS_SERVER_VERSION.replace(/^v/, '')}-alpine`;
    for (const overlay of OVERLAYS) {
      const nats = ofKind<V1StatefulSet>(await build(overlay), 'StatefulSet').find(
        (s) => s.metadata.name === 'nats',
      );
      expect(nats?.spec?.template.spec?.containers[0]?.image, overlay).toBe(image);
    }
    const compose = loadYaml<{ services: Record<string, { image?: string }> }>(
      readFileSync(join(ROOT, 'docker-compose.yml'), 'utf8'),
    );
    expect(compose.services['nats']?.image).toBe(image);
    const script = readFileSync(join(ROOT, 'scripts', 'build-nats-server.sh'), 'utf8');
    const pinned = /^NATS_SERVER_VERSION="\$\{NATS_SERVER_VERSION:-([^}]+)\}"$/m.exec(script);
    expect(pinned?.[1]).toBe(NATS_SERVER_VERSION);
  });
});

// Given the shipped kustomize overlays and a real kube-apiserver with RBAC on.
describe('Kubernetes manifests (k8s/)', () => {
  const sandbox = useSandbox(['kube'], 'manifests');
  const built = new Map<Overlay, Obj[]>();
  const objects = (overlay: Overlay): Obj[] => built.get(overlay) ?? [];

  beforeAll(async () => {
    for (const overlay of OVERLAYS) built.set(overlay, await build(overlay));
  });

  it('builds every overlay with the five services hardened, probed, budgeted and spread', () => {
    for (const overlay of OVERLAYS) {
      const findings = servicesOf(overlay).flatMap((name) =>
        serviceFindings(name, objects(overlay)),
      );
      expect(findings, overlay).toEqual([]);
      // exactly its services: a fleet side runs no Deployment of the other side's
      expect(
        ofKind<V1Deployment>(objects(overlay), 'Deployment')
          .map((d) => d.metadata.name)
          .sort(),
        overlay,
      ).toEqual([...servicesOf(overlay)].sort());
      const resolver = ofKind<V1Deployment>(objects(overlay), 'Deployment').find(
        (d) => d.metadata.name === 'resolver',
      );
      const env = resolver?.spec?.template.spec?.containers[0]?.env;
      if (env)
        expect(env.find((e) => e.name === 'ONPUSH_NAMESPACE')?.valueFrom?.fieldRef?.fieldPath).toBe(
          'metadata.namespace',
        );
      expect(ofKind(objects(overlay), 'Secret'), 'no Secret is shipped').toEqual([]);
    }
  });

  it('scales each service with exactly one autoscaler; KEDA reads the consumers of TOPOLOGY', () => {
    for (const overlay of OVERLAYS) {
      const targets = [
        ...ofKind<V2HorizontalPodAutoscaler>(objects(overlay), 'HorizontalPodAutoscaler').map(
          (h) => h.spec?.scaleTargetRef.name,
        ),
        ...ofKind<ScaledObject>(objects(overlay), 'ScaledObject').map(
          (s) => s.spec.scaleTargetRef.name,
        ),
      ].sort();
      expect(targets, overlay).toEqual([...servicesOf(overlay)].sort());
    }
    const scaled = ofKind<ScaledObject>(objects('production'), 'ScaledObject');
    for (const consumer of Object.values(TOPOLOGY.consumers)) {
      const triggers = scaled.find((s) => s.spec.scaleTargetRef.name === consumer.stage)?.spec
        .triggers;
      expect(triggers, consumer.durable).toContainEqual(
        expect.objectContaining({
          type: 'nats-jetstream',
          metadata: expect.objectContaining({
            stream: consumer.stream,
            consumer: consumer.durable,
          }) as unknown,
        }),
      );
    }
  });

  it('denies all traffic by default and lets only ingest take traffic from anywhere', () => {
    for (const overlay of OVERLAYS)
      expect(networkPosture(objects(overlay)), overlay).toEqual({
        denyAll: true,
        openToAll: OPEN_TO_ALL[overlay],
      });
  });

  it('lets the console the dlq-manager serves ask each service beside it for its health, and only that', () => {
    for (const overlay of OVERLAYS) {
      const others = servicesOf(overlay).filter((s) => s !== 'dlq-manager');
      const { urls, reachable } = consoleReach(objects(overlay));
      expect(reachable, overlay).toEqual([...others].sort());
      for (const service of others) expect(urls, overlay).toContain(service);
    }
  });

  it('gives each service pod only its own NATS identity, and the provision Job the admin one', () => {
    for (const overlay of OVERLAYS) {
      expect(mountedIdentities(objects(overlay)), overlay).toEqual({
        ...Object.fromEntries(
          servicesOf(overlay).map((s) => [s, [identitySecretName(s as NatsIdentity)]]),
        ),
        provision: [identitySecretName('admin')],
      });
    }
  });

  it('ships a NATS configuration that nats-server accepts, with the Secrets onpush credentials makes', async () => {
    // The Secrets each overlay's nats-server mounts beside nats.conf, and its fleet role's lines.
    const cases = {
      production: { secrets: [SERVER_SECRET_NAME], lines: [] as RegExp[] },
      'fleet-hub': {
        secrets: [SERVER_SECRET_NAME, LEAF_HUB_SECRET_NAME],
        lines: [/domain: hub/, /leafnodes \{\s*port: 7422/, /include leaf-auth.conf/],
      },
      'fleet-cluster': {
        secrets: [SERVER_SECRET_NAME, LEAF_CLUSTER_SECRET_NAME],
        lines: [/domain: \$CLUSTER_NAME/, /url: \$HUB_LEAF_URL/, /include leaf-remote.conf/],
      },
    } as const;
    const dir = mkdtempSync(join(tmpdir(), 'onpush-nats-conf-'));
    try {
      ensureCredentials(dir);
      ensureLeafCredentials(dir);
      await ensureTls(dir);
      const secrets = credentialSecrets(dir, 'onpush').items;
      for (const [overlay, expected] of Object.entries(cases) as [
        keyof typeof cases,
        (typeof cases)[keyof typeof cases],
      ][]) {
        const config = ofKind<V1ConfigMap>(objects(overlay), 'ConfigMap').find((c) =>
          c.metadata.name.startsWith('nats-config'),
        );
        const conf = config?.data?.['nats.conf'] ?? '';
        for (const line of expected.lines) expect(conf, overlay).toMatch(line);
        const nats = ofKind<V1StatefulSet>(objects(overlay), 'StatefulSet')[0];
        const env = nats?.spec?.template.spec?.containers[0]?.env ?? [];
        // The config volume projects nats.conf and the Secrets `onpush credentials --secrets` makes.
        const projected = nats?.spec?.template.spec?.volumes?.find(
          (v) => v.name === 'config',
        )?.projected;
        expect(projected?.sources?.map((s) => s.secret?.name).filter(Boolean), overlay).toEqual([
          ...expected.secrets,
        ]);
        const here = join(dir, overlay);
        mkdirSync(here);
        for (const secret of secrets.filter((i) =>
          (expected.secrets as readonly string[]).includes(i.metadata.name),
        ))
          for (const [key, value] of Object.entries(secret.data))
            writeFileSync(join(here, key), Buffer.from(value, 'base64'));
        const file = join(here, 'nats.conf');
        // Mounted at /etc/nats in the pod; here in its directory.
        writeFileSync(file, conf.replaceAll('/etc/nats/', `${here}/`));
        const values = Object.fromEntries(env.filter((e) => e.value).map((e) => [e.name, e.value]));
        const { stderr, stdout } = await run(findNatsServer(), ['-c', file, '-t'], {
          env: {
            ...process.env,
            ...values,
            POD_NAME: `${nats?.metadata.name}-0`,
            CLUSTER_NAME: 'prod-eu',
          },
        });
        expect(stdout + stderr, overlay).toContain('is valid');
      }
      // A cluster's link lets through what the sandbox's does (LEAF_LINK), no more.
      const clusterConf =
        ofKind<V1ConfigMap>(objects('fleet-cluster'), 'ConfigMap').find((c) =>
          c.metadata.name.startsWith('nats-config'),
        )?.data?.['nats.conf'] ?? '';
      const listed = (key: string) =>
        [
          ...(new RegExp(`${key}: \\[([^\\]]*)\\]`).exec(clusterConf)?.[1] ?? '').matchAll(
            /"([^"]+)"/g,
          ),
        ].map((m) => m[1]);
      expect(listed('deny_imports')).toEqual([...LEAF_LINK.denyImports]);
      expect(listed('deny_exports')).toEqual([...LEAF_LINK.denyExports]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('runs NATS as the cluster failure tests run it: three nodes, lame duck, current before the next', () => {
    for (const overlay of OVERLAYS) {
      const nats = ofKind<V1StatefulSet>(objects(overlay), 'StatefulSet').find(
        (o) => o.metadata.name === 'nats',
      );
      const pod = nats?.spec?.template.spec;
      const c = pod?.containers[0];
      const conf =
        ofKind<V1ConfigMap>(objects(overlay), 'ConfigMap').find((m) =>
          m.metadata.name.startsWith('nats-config'),
        )?.data?.['nats.conf'] ?? '';
      const seconds = (key: string): number =>
        Number(new RegExp(`^${key}: (\\d+)s$`, 'm').exec(conf)?.[1] ?? NaN);
      expect(nats?.spec?.replicas, overlay).toBe(3);
      // the cluster block the sandbox's NatsCluster writes (shared/sandbox/src/nats-server.ts)
      expect(conf).toMatch(new RegExp(`cluster \\{\\s*name: ${CLUSTER_NAME}\\b`));
      expect(conf).toMatch(/connect_retries: 120/);
      // stopped in lame-duck mode, within the grace period
      expect(c?.lifecycle?.preStop?.exec?.command).toEqual([
        'nats-server',
        '--signal',
        'ldm=/var/run/nats/nats.pid',
      ]);
      expect(pod?.terminationGracePeriodSeconds).toBeGreaterThan(
        seconds('lame_duck_grace_period') + seconds('lame_duck_duration'),
      );
      // a restarted node counts as started only once JetStream is current (/healthz)
      expect(c?.startupProbe?.httpGet?.path).toBe('/healthz');
      const pdb = ofKind<V1PodDisruptionBudget>(objects(overlay), 'PodDisruptionBudget').find(
        (p) => p.metadata.name === 'nats',
      );
      expect(pdb?.spec?.maxUnavailable).toBe(1);
    }
    const production = ofKind<V1StatefulSet>(objects('production'), 'StatefulSet')[0];
    expect(
      production?.spec?.template.spec?.affinity?.podAntiAffinity
        ?.requiredDuringSchedulingIgnoredDuringExecution?.[0]?.topologyKey,
    ).toBe('kubernetes.io/hostname');
  });

  it('applies every overlay with server-side dry run, CRDs for KEDA and Prometheus registered', async () => {
    const kc = loadKubeConfig(sandbox().need('kube').kubeconfigPath);
    const extensions = kc.makeApiClient(ApiextensionsV1Api);
    for (const body of OPERATOR_CRDS) await extensions.createCustomResourceDefinition({ body });
    for (const { metadata } of OPERATOR_CRDS) {
      await eventually(`CRD ${metadata?.name} established`, async () => {
        const crd = await extensions.readCustomResourceDefinition({ name: metadata?.name ?? '' });
        return crd.status?.conditions?.some((c) => c.type === 'Established' && c.status === 'True');
      });
    }
    const custom = kc.makeApiClient(CustomObjectsApi);
    await eventually('the API server to serve the new kinds', () =>
      custom.listNamespacedCustomObject({
        group: 'keda.sh',
        version: 'v1alpha1',
        namespace: NAMESPACE,
        plural: 'scaledobjects',
      }),
    );
    const api = KubernetesObjectApi.makeApiClient(kc);
    const apply = (o: Obj, dryRun?: 'All') =>
      api.patch(o, undefined, dryRun, FIELD_MANAGER, true, PatchStrategy.ServerSideApply);

    for (const overlay of OVERLAYS) {
      const failures: string[] = [];
      // The namespace for real: namespaced objects are admitted only into an existing one.
      for (const ns of ofKind(objects(overlay), 'Namespace')) await apply(ns);
      for (const o of objects(overlay).filter((x) => x.kind !== 'Namespace')) {
        await apply(o, 'All').catch((error: unknown) =>
          failures.push(`${o.kind}/${o.metadata.name}: ${reason(error)}`),
        );
      }
      expect(failures, overlay).toEqual([]);
    }
  });

  it('runs every pod under the restricted Pod Security Standard the namespace enforces', async () => {
    const core = loadKubeConfig(sandbox().need('kube').kubeconfigPath).makeApiClient(CoreV1Api);
    await eventually('namespace onpush', () => core.readNamespace({ name: NAMESPACE }));
    for (const overlay of OVERLAYS)
      expect(await refusedPods(core, NAMESPACE, podTemplates(objects(overlay))), overlay).toEqual(
        [],
      );
  });

  describe('RBAC, created for real from the production overlay', () => {
    const admin = () => loadKubeConfig(sandbox().need('kube').kubeconfigPath);
    const KINDS = [
      'Namespace',
      'ServiceAccount',
      'Role',
      'RoleBinding',
      'ClusterRole',
      'ClusterRoleBinding',
    ];
    const shipped = () => objects('production').filter((o) => KINDS.includes(o.kind ?? ''));

    beforeAll(async () => {
      const api = KubernetesObjectApi.makeApiClient(admin());
      for (const o of shipped())
        await api.patch(
          o,
          undefined,
          undefined,
          FIELD_MANAGER,
          true,
          PatchStrategy.ServerSideApply,
        );
    });

    it('lets each ServiceAccount do what its service does (SubjectAccessReview)', async () => {
      const authz = admin().makeApiClient(AuthorizationV1Api);
      const can = ([sa, verb, resource, namespace, , name]: Access): Promise<boolean> =>
        canAccess(authz, [NAMESPACE, sa, verb, resource, namespace, name]);
      await eventually('RBAC to see the shipped bindings', () =>
        can(['restarter', 'patch', 'deployments.apps', 'shop', true]),
      );
      const answers = await Promise.all(ACCESS.map(can));
      const wrong = ACCESS.filter((row, i) => answers[i] !== row[4]).map(
        ([sa, verb, res, ns, allowed, name]) =>
          `${sa} ${allowed ? 'cannot' : 'can'} ${verb} ${res}${name ? ` ${name}` : ''} in ${ns || 'every namespace'}`,
      );
      expect(wrong).toEqual([]);
    });

    it('gives each ServiceAccount nothing more, as it sees its own rules with its own token', async () => {
      for (const [sa, byNamespace] of Object.entries(expectedRules(NAMESPACE, 'shop')))
        for (const [namespace, rules] of Object.entries(byNamespace))
          expect(
            await ownRules(admin(), NAMESPACE, sa, namespace),
            `${sa} in ${namespace}`,
          ).toEqual([...rules].sort());
    });
  });
});
