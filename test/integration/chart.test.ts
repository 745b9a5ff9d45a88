// The Helm chart charts/onpush, rendered by the pinned helm scripts/install-deploy-tools.sh builds:
// linted, its schema refusing typos, each rendered object held to the posture of the kustomize base
// (test/integration/manifests.test.ts), its nats.conf checked by nats-server, and every object
// applied with server-side dry run to a real kube-apiserver, pods under the restricted Pod Security
// Standard and RBAC asked of the API server.
import { execFile } from 'node:child_process';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  realpathSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  ApiextensionsV1Api,
  AuthorizationV1Api,
  CoreV1Api,
  CustomObjectsApi,
  KubernetesObjectApi,
  PatchStrategy,
  loadAllYaml,
  loadYaml,
  type V1ClusterRole,
  type V1ConfigMap,
  type V1Deployment,
  type V1Job,
  type V1NetworkPolicy,
  type V1PodDisruptionBudget,
  type V1Role,
  type V1Service,
  type V1ServiceAccount,
  type V1StatefulSet,
  type V1ValidatingAdmissionPolicy,
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
import { NATS_SERVER_VERSION, cacheDir, findNatsServer } from '@onpush/sandbox';
import { eventually, useSandbox } from '@onpush/testing';
import {
  OPERATOR_CRDS,
  canAccess,
  expectedRules,
  mountedIdentities,
  named,
  consoleReach,
  networkPosture,
  ofKind,
  ownRules,
  podTemplates,
  reason,
  refusedPods,
  selects,
  serviceFindings,
  type Obj,
} from '../support/k8s-objects.js';

const run = promisify(execFile);
const ROOT = resolve(import.meta.dirname, '..', '..');
const CHART = join(ROOT, 'charts', 'onpush');
const PRODUCTION = join(CHART, 'ci', 'production-values.yaml');
const HELM_VERSION = /^HELM_VERSION="\$\{HELM_VERSION:-([^}]+)\}"$/m.exec(
  readFileSync(join(ROOT, 'scripts', 'install-deploy-tools.sh'), 'utf8'),
)?.[1];
const SERVICES = ['ingest', 'parser', 'resolver', 'restarter', 'dlq-manager'] as const;
const NAMESPACE = 'onpush';
const FIELD_MANAGER = 'onpush-chart-test';
/** A fleet's two sides (fleet.role): the hub by --set, a cluster by a values file. */
const FLEET = {
  clusters: ['staging', 'prod-eu'],
  cluster: 'prod-eu',
  hubLeafUrl: 'tls://nats-leaf.hub.example.com:7422',
} as const;
const HUB_SET = ['fleet.role=hub', `fleet.hub.clusters={${FLEET.clusters.join(',')}}`];
const CLUSTER_VALUES = [
  'fleet:',
  '  role: cluster',
  '  cluster:',
  `    name: ${FLEET.cluster}`,
  `    hubLeafUrl: ${FLEET.hubLeafUrl}`,
  '',
].join('\n');
const RESTRICTED = {
  'pod-security.kubernetes.io/enforce': 'restricted',
  'pod-security.kubernetes.io/warn': 'restricted',
};

interface ScaledObject extends Obj {
  spec: {
    scaleTargetRef: { name: string };
    minReplicaCount: number;
    triggers: { type: string; metadata: Record<string, string> }[];
  };
}
interface ServiceMonitor extends Obj {
  spec: {
    selector: { matchLabels?: Record<string, string>; matchExpressions?: [] };
    endpoints: { port: string; path: string }[];
  };
}

/** The helm scripts/install-deploy-tools.sh builds at HELM_VERSION, else one on PATH. */
function helm(): string {
  const built = join(cacheDir(), 'tools', 'bin', 'helm');
  if (existsSync(built)) return built;
  const onPath = (process.env['PATH'] ?? '')
    .split(delimiter)
    .map((dir) => join(dir, 'helm'))
    .find((file) => existsSync(file));
  if (onPath) return onPath;
  throw new Error(
    `helm not found: neither ${built} nor helm on PATH. Run scripts/install-deploy-tools.sh ` +
      '(npm test runs it).',
  );
}

/** `helm template` of the chart: the objects it would install. */
async function render(
  options: { values?: string[]; set?: string[]; namespace?: string; release?: string } = {},
): Promise<Obj[]> {
  const { values = [], set = [], namespace = NAMESPACE, release = 'onpush' } = options;
  const { stdout } = await run(
    helm(),
    [
      'template',
      release,
      CHART,
      '--namespace',
      namespace,
      ...values.flatMap((file) => ['--values', file]),
      ...set.flatMap((pair) => ['--set', pair]),
    ],
    { maxBuffer: 16 * 1024 * 1024 },
  );
  return (loadAllYaml(stdout) as (Obj | null)[]).filter((o): o is Obj => o !== null);
}

/** What helm says when it refuses to render with these values (undefined: it rendered). */
async function refusal(values: string): Promise<string | undefined> {
  const dir = mkdtempSync(join(tmpdir(), 'onpush-chart-values-'));
  try {
    const file = join(dir, 'values.yaml');
    writeFileSync(file, values);
    await run(helm(), ['template', 'onpush', CHART, '--values', file]);
    return undefined;
  } catch (error) {
    return (error as { stderr?: string }).stderr ?? String(error);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const container = (d: V1Deployment | V1StatefulSet | V1Job | undefined) =>
  d?.spec?.template.spec?.containers[0];
const envOf = (objects: readonly Obj[], name: string) =>
  Object.fromEntries(
    (container(named<V1Deployment>(objects, 'Deployment', name))?.env ?? []).map((e) => [
      e.name,
      e.value ?? e.valueFrom,
    ]),
  );
const configOf = (objects: readonly Obj[], name: string) =>
  named<V1ConfigMap>(objects, 'ConfigMap', name)?.data ?? {};
const labelsOf = (objects: readonly Obj[]): Record<string, string>[] =>
  podTemplates(objects).map(({ template }) => template.metadata?.labels ?? {});
const natsConfOf = (objects: readonly Obj[]) => configOf(objects, 'nats-config')['nats.conf'] ?? '';
/** The quoted subjects of a `key: [ ... ]` list of a nats.conf (a leaf remote's deny lists). */
const listedIn = (conf: string, key: string) =>
  [...(new RegExp(`${key}: \\[([^\\]]*)\\]`).exec(conf)?.[1] ?? '').matchAll(/"([^"]+)"/g)].map(
    (m) => m[1],
  );
/** The Secrets projected beside nats.conf into the NATS pods. */
const natsSecretsOf = (objects: readonly Obj[]) =>
  named<V1StatefulSet>(objects, 'StatefulSet', 'nats')
    ?.spec?.template.spec?.volumes?.find((v) => v.name === 'config')
    ?.projected?.sources?.map((s) => s.secret?.name)
    .filter(Boolean);

describe('the Helm chart (charts/onpush)', () => {
  const renders: Record<'default' | 'production', Obj[]> = { default: [], production: [] };
  /** The two sides of a fleet (fleet.role hub and cluster), default values otherwise. */
  const fleet: Record<'hub' | 'cluster', Obj[]> = { hub: [], cluster: [] };
  const valuesDir = mkdtempSync(join(tmpdir(), 'onpush-chart-fleet-'));

  beforeAll(async () => {
    renders.default = await render();
    renders.production = await render({ values: [PRODUCTION] });
    fleet.hub = await render({ set: HUB_SET });
    const clusterValues = join(valuesDir, 'cluster.yaml');
    writeFileSync(clusterValues, CLUSTER_VALUES);
    fleet.cluster = await render({ values: [clusterValues] });
  });
  afterAll(() => rmSync(valuesDir, { recursive: true, force: true }));

  it('is linted clean (strict) with the default and the production values, by the pinned helm', async () => {
    // the build of scripts/install-deploy-tools.sh, at its pinned version, when there
    const built = join(cacheDir(), 'tools', 'bin', 'helm');
    if (existsSync(built)) expect(realpathSync(built)).toContain(`helm-${HELM_VERSION}/`);
    const { stdout } = await run(helm(), ['version', '--template', '{{ .Version }}']);
    expect(stdout).toMatch(/^v4\./);
    for (const values of [[], ['--values', PRODUCTION]]) {
      const linted = await run(helm(), ['lint', '--strict', CHART, ...values]);
      expect(linted.stdout, values.join(' ')).toContain('1 chart(s) linted, 0 chart(s) failed');
    }
  });

  it('refuses a typo or a wrong type in the values, naming it', async () => {
    expect(await refusal('ingest:\n  replicaz: 2\n')).toMatch(/'replicaz' not allowed/);
    expect(await refusal('networkPolicies:\n  enabled: false\n')).toMatch(
      /'networkPolicies' not allowed/,
    );
    expect(await refusal('nats:\n  storage:\n    sise: 10Gi\n')).toMatch(/'sise' not allowed/);
    expect(await refusal('nats:\n  replicas: "3"\n')).toMatch(/nats\/replicas.*want integer/);
    expect(await refusal('autoscaling:\n  mode: vpa\n')).toMatch(/autoscaling\/mode/);
    expect(await refusal('nats:\n  enabled: false\n')).toMatch(/nats.url is required/);
    expect(await refusal('ingest:\n  pubsub:\n    pull: true\n')).toMatch(
      /ingest.pubsub.project is required/,
    );
    // the same keys, spelled right, are taken: per-stage replicas without an autoscaler
    expect(await refusal('autoscaling:\n  mode: none\ningest:\n  replicas: 2\n')).toBeUndefined();
    const fixed = await render({ set: ['autoscaling.mode=none', 'parser.replicas=4'] });
    expect(named<V1Deployment>(fixed, 'Deployment', 'parser')?.spec?.replicas).toBe(4);
    expect(named<V1Deployment>(fixed, 'Deployment', 'ingest')?.spec?.replicas).toBe(1);
    expect(ofKind(fixed, 'HorizontalPodAutoscaler')).toEqual([]);
  });

  it('renders the five services hardened, probed, budgeted and spread, as the kustomize base', () => {
    for (const [name, objects] of Object.entries(renders)) {
      expect(
        SERVICES.flatMap((s) => serviceFindings(s, objects)),
        name,
      ).toEqual([]);
      expect(
        ofKind(objects, 'Deployment')
          .map((d) => d.metadata.name)
          .sort(),
        name,
      ).toEqual([...SERVICES].sort());
      expect(envOf(objects, 'resolver')['ONPUSH_NAMESPACE']).toEqual({
        fieldRef: { fieldPath: 'metadata.namespace' },
      });
      expect(ofKind(objects, 'Secret'), 'no Secret is rendered').toEqual([]);
      // a Deployment's spread selects its own pods
      for (const d of ofKind<V1Deployment>(objects, 'Deployment')) {
        const labels = d.spec?.template.metadata?.labels ?? {};
        for (const spread of d.spec?.template.spec?.topologySpreadConstraints ?? [])
          expect(selects(spread.labelSelector, labels), d.metadata.name).toBe(true);
        expect(selects(d.spec?.selector, labels), d.metadata.name).toBe(true);
      }
      // every namespaced object goes where the release goes
      expect(
        objects
          .filter((o) => !/^(Cluster|ValidatingAdmissionPolicy)/.test(o.kind ?? ''))
          .filter((o) => o.metadata.namespace !== NAMESPACE)
          .map((o) => `${o.kind}/${o.metadata.name}`),
        name,
      ).toEqual([]);
    }
    const image = (objects: Obj[]) =>
      [...ofKind<V1Deployment>(objects, 'Deployment'), ...ofKind<V1Job>(objects, 'Job')].map(
        (d) => container(d)?.image,
      );
    const appVersion = loadYaml<{ appVersion: string }>(
      readFileSync(join(CHART, 'Chart.yaml'), 'utf8'),
    ).appVersion;
    expect(new Set(image(renders.default))).toEqual(new Set([`onpush:${appVersion}`]));
    expect(new Set(image(renders.production))).toEqual(
      new Set(['us-docker.pkg.dev/acme-prod/onpush/onpush:0.1.0']),
    );
  });

  it('scales each service with exactly one autoscaler: HPA by default, KEDA on the consumers of TOPOLOGY', () => {
    const targets = (objects: Obj[]) =>
      [
        ...ofKind<V2HorizontalPodAutoscaler>(objects, 'HorizontalPodAutoscaler').map(
          (h) => h.spec?.scaleTargetRef.name,
        ),
        ...ofKind<ScaledObject>(objects, 'ScaledObject').map((s) => s.spec.scaleTargetRef.name),
      ].sort();
    expect(targets(renders.default)).toEqual([...SERVICES].sort());
    expect(ofKind(renders.default, 'ScaledObject')).toEqual([]);
    expect(targets(renders.production)).toEqual([...SERVICES].sort());
    expect(ofKind(renders.production, 'HorizontalPodAutoscaler')).toEqual([]);
    const scaled = ofKind<ScaledObject>(renders.production, 'ScaledObject');
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
    // two replicas at least in production, as k8s/overlays/production
    expect(scaled.map((s) => s.spec.minReplicaCount)).toEqual(scaled.map(() => 2));
    // KEDA reaches each NATS node by its full name, in the release's namespace
    expect(configOf(renders.production, 'onpush-keda')['NATS_MONITORING_ENDPOINT']).toBe(
      `nats-headless.${NAMESPACE}.svc.cluster.local:8222`,
    );
  });

  it('lets the console the dlq-manager serves ask each service of the release for its health, and only that', () => {
    const sides: [string, Obj[], readonly string[]][] = [
      ...Object.entries(renders).map(([name, objects]): [string, Obj[], readonly string[]] => [
        name,
        objects,
        SERVICES,
      ]),
      ['fleet hub', fleet.hub, FLEET_SERVICES.hub],
      ['fleet cluster', fleet.cluster, FLEET_SERVICES.cluster],
    ];
    for (const [name, objects, services] of sides) {
      const others = services.filter((s) => s !== 'dlq-manager');
      expect(consoleReach(objects), name).toEqual({
        urls: [...others].sort(),
        reachable: [...others].sort(),
      });
    }
  });

  it('denies all traffic by default, lets only ingest take traffic from anywhere, and selects pods it runs', () => {
    for (const [name, objects] of Object.entries(renders)) {
      const policies = ofKind<V1NetworkPolicy>(objects, 'NetworkPolicy');
      expect(networkPosture(objects), name).toEqual({ denyAll: true, openToAll: ['ingest'] });
      // each policy applies to pods the chart runs, and each pod reaches NATS (egress 4222)
      const pods = labelsOf(objects);
      for (const p of policies)
        expect(
          pods.some((labels) => selects(p.spec?.podSelector, labels)),
          p.metadata.name,
        ).toBe(true);
      const natsClients = named<V1NetworkPolicy>(objects, 'NetworkPolicy', 'nats-clients');
      const natsPolicy = named<V1NetworkPolicy>(objects, 'NetworkPolicy', 'nats');
      for (const labels of pods.filter((l) => l['app.kubernetes.io/name'] !== 'nats')) {
        expect(selects(natsClients?.spec?.podSelector, labels), JSON.stringify(labels)).toBe(true);
        expect(
          natsPolicy?.spec?.ingress?.some((rule) =>
            rule._from?.some((peer) => selects(peer.podSelector, labels)),
          ),
          JSON.stringify(labels),
        ).toBe(true);
      }
    }
  });

  it('gives each service pod only its own NATS identity, and the provision Job the admin one', () => {
    for (const [name, objects] of Object.entries(renders)) {
      const mounted = mountedIdentities(objects);
      expect(mounted, name).toEqual({
        ...Object.fromEntries(SERVICES.map((s) => [s, [identitySecretName(s as NatsIdentity)]])),
        provision: [identitySecretName('admin')],
      });
      // and no Kubernetes API token for the Job
      const job = ofKind<V1Job>(objects, 'Job')[0];
      expect(job?.spec?.template.spec?.automountServiceAccountToken).toBe(false);
    }
    expect(container(ofKind<V1Job>(renders.default, 'Job')[0])?.args).toEqual([
      'provision',
      '--replicas',
      '1',
    ]);
    expect(container(ofKind<V1Job>(renders.production, 'Job')[0])?.args).toEqual([
      'provision',
      '--replicas',
      '3',
    ]);
  });

  it('renders a nats.conf that nats-server accepts, with the Secrets onpush credentials makes', async () => {
    const single = await render({ set: ['nats.replicas=1'] });
    const cases: [string, Obj[], number][] = [
      ['default', renders.default, 3],
      ['production', renders.production, 3],
      ['nats.replicas=1', single, 1],
    ];
    const dir = mkdtempSync(join(tmpdir(), 'onpush-chart-nats-'));
    try {
      ensureCredentials(dir);
      await ensureTls(dir);
      const server = credentialSecrets(dir, NAMESPACE).items.find(
        (s) => s.metadata.name === SERVER_SECRET_NAME,
      );
      for (const [name, objects, replicas] of cases) {
        const nats = named<V1StatefulSet>(objects, 'StatefulSet', 'nats');
        expect(nats?.spec?.replicas, name).toBe(replicas);
        expect(container(nats)?.image, name).toBe(
          `nats:${NATS_SERVER_VERSION.replace(/^v/, '')}-alpine`,
        );
        // nats.conf is projected beside the Secret `onpush credentials --secrets` makes
        const projected = nats?.spec?.template.spec?.volumes?.find(
          (v) => v.name === 'config',
        )?.projected;
        expect(projected?.sources?.map((s) => s.secret?.name ?? s.configMap?.name)).toEqual([
          'nats-config',
          SERVER_SECRET_NAME,
        ]);
        const conf = configOf(objects, 'nats-config')['nats.conf'] ?? '';
        const routes = [...conf.matchAll(/nats:\/\/(nats-\d+)\.nats-headless:6222/g)].map(
          (m) => m[1],
        );
        expect(routes, name).toEqual(
          replicas > 1 ? Array.from({ length: replicas }, (_, i) => `nats-${i}`) : [],
        );
        const here = join(dir, name);
        mkdirSync(here);
        for (const [key, value] of Object.entries(server?.data ?? {}))
          writeFileSync(join(here, key), Buffer.from(value, 'base64'));
        const file = join(here, 'nats.conf');
        // Mounted at /etc/nats in the pod; here in its directory.
        writeFileSync(file, conf.replaceAll('/etc/nats/', `${here}/`));
        const env = container(nats)?.env ?? [];
        const values = Object.fromEntries(env.filter((e) => e.value).map((e) => [e.name, e.value]));
        const { stderr, stdout } = await run(findNatsServer(), ['-c', file, '-t'], {
          env: { ...process.env, ...values, POD_NAME: 'nats-0' },
        });
        expect(stdout + stderr, name).toContain('is valid');
        // stopped in lame-duck mode, within the grace period; started once JetStream is current
        expect(container(nats)?.lifecycle?.preStop?.exec?.command).toEqual([
          'nats-server',
          '--signal',
          'ldm=/var/run/nats/nats.pid',
        ]);
        expect(nats?.spec?.template.spec?.terminationGracePeriodSeconds).toBeGreaterThan(10 + 30);
        expect(conf).toMatch(/^lame_duck_grace_period: 10s$/m);
        expect(conf).toMatch(/^lame_duck_duration: 30s$/m);
        expect(container(nats)?.startupProbe?.httpGet?.path).toBe('/healthz');
        expect(
          named<V1PodDisruptionBudget>(objects, 'PodDisruptionBudget', 'nats')?.spec
            ?.maxUnavailable,
        ).toBe(1);
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('renders the production values: Workload Identity, Pub/Sub, webhooks from Secrets, monitoring, NATS apart', () => {
    const objects = renders.production;
    expect(
      named<V1ServiceAccount>(objects, 'ServiceAccount', 'ingest')?.metadata.annotations,
    ).toEqual({
      'iam.gke.io/gcp-service-account': 'onpush-ingest@acme-prod.iam.gserviceaccount.com',
    });
    const ingestConfig = configOf(objects, 'onpush-ingest');
    expect(ingestConfig).toMatchObject({
      PUBSUB_PULL: 'true',
      PUBSUB_PROJECT: 'acme-prod',
      PUBSUB_SUBSCRIPTION: 'onpush-gcr',
    });
    expect(configOf(objects, 'onpush-config')['ONPUSH_EXCLUDE_NAMESPACES']).toBe('kube-system');
    // WEBHOOKS_FILE names a file of the mounted Secret; the endpoints' secrets beside it
    const ingest = named<V1Deployment>(objects, 'Deployment', 'ingest');
    const pod = ingest?.spec?.template.spec;
    const mountOf = (secret: string) => {
      const volume = pod?.volumes?.find((v) => v.secret?.secretName === secret)?.name;
      return pod?.containers[0]?.volumeMounts?.find((m) => m.name === volume)?.mountPath;
    };
    expect(ingestConfig['WEBHOOKS_FILE']).toBe(`${mountOf('onpush-webhooks')}/webhooks.json`);
    expect(mountOf('onpush-webhook-secrets')).toBe('/etc/onpush/secrets');
    expect(container(ingest)?.envFrom?.map((e) => e.configMapRef?.name)).toEqual([
      'onpush-config',
      'onpush-ingest',
    ]);
    // the ServiceMonitor scrapes the five services' port http
    const monitor = ofKind<ServiceMonitor>(objects, 'ServiceMonitor')[0];
    const scraped = ofKind<V1Service>(objects, 'Service')
      .filter((s) => selects(monitor?.spec.selector, s.metadata?.labels ?? {}))
      .filter((s) => s.spec?.ports?.some((p) => p.name === monitor?.spec.endpoints[0]?.port));
    expect(scraped.map((s) => s.metadata.name).sort()).toEqual([...SERVICES].sort());
    expect(monitor?.spec.endpoints[0]?.path).toBe('/metrics');
    expect(monitor?.metadata.labels?.['release']).toBe('kps');
    // the alerts are k8s/monitoring's, untouched by Helm's templating
    const rules = loadYaml<{ spec: unknown }>(
      readFileSync(join(ROOT, 'k8s', 'monitoring', 'prometheus-rules.yaml'), 'utf8'),
    );
    const rendered = ofKind<Obj & { spec: unknown }>(objects, 'PrometheusRule');
    expect(rendered.map((r) => r.spec)).toEqual([rules.spec]);
    expect(ofKind(renders.default, 'PrometheusRule')).toEqual([]);
    expect(ofKind(renders.default, 'ServiceMonitor')).toEqual([]);
    // never two NATS nodes on one machine
    const nats = named<V1StatefulSet>(objects, 'StatefulSet', 'nats');
    expect(
      nats?.spec?.template.spec?.affinity?.podAntiAffinity
        ?.requiredDuringSchedulingIgnoredDuringExecution?.[0]?.topologyKey,
    ).toBe('kubernetes.io/hostname');
    expect(nats?.spec?.volumeClaimTemplates?.[0]?.spec?.resources?.requests?.['storage']).toBe(
      '50Gi',
    );
    // the admission policy guards this release's restarter
    expect(
      ofKind<V1ValidatingAdmissionPolicy>(objects, 'ValidatingAdmissionPolicy')[0]?.spec
        ?.matchConditions?.[0]?.expression,
    ).toBe(`request.userInfo.username == 'system:serviceaccount:${NAMESPACE}:restarter'`);
  });

  it('rolls the services when their configuration changes', async () => {
    const checksum = (objects: Obj[]) =>
      named<V1Deployment>(objects, 'Deployment', 'parser')?.spec?.template.metadata?.annotations?.[
        'checksum/config'
      ];
    const debug = await render({ set: ['config.logLevel=debug'] });
    expect(configOf(debug, 'onpush-config')['LOG_LEVEL']).toBe('debug');
    expect(checksum(debug)).toMatch(/^[0-9a-f]{64}$/);
    expect(checksum(debug)).not.toBe(checksum(renders.default));
  });

  it('uses an existing NATS when nats.enabled is false', async () => {
    const objects = await render({
      set: ['nats.enabled=false', 'nats.url=tls://nats.example.com:4443'],
    });
    expect(configOf(objects, 'onpush-config')['NATS_URL']).toBe('tls://nats.example.com:4443');
    expect(ofKind(objects, 'StatefulSet')).toEqual([]);
    expect(named(objects, 'ConfigMap', 'nats-config')).toBeUndefined();
    expect(named(objects, 'NetworkPolicy', 'nats')).toBeUndefined();
    const egress = named<V1NetworkPolicy>(objects, 'NetworkPolicy', 'nats-clients')?.spec?.egress;
    expect(egress).toEqual([{ ports: [{ protocol: 'TCP', port: 4443 }] }]);
    expect(SERVICES.flatMap((s) => serviceFindings(s, objects))).toEqual([]);
  });

  it('confines RBAC to the listed namespaces in namespaced mode, and scopes the services to them', async () => {
    const objects = await render({ set: ['rbac.namespaces={shop,blog}'] });
    expect(ofKind(objects, 'ClusterRole')).toEqual([]);
    expect(ofKind(objects, 'ClusterRoleBinding')).toEqual([]);
    const roles = ofKind<V1Role>(objects, 'Role').map(
      (r) => `${r.metadata.namespace}/${r.metadata.name}`,
    );
    expect(roles.sort()).toEqual(
      [
        'blog/onpush-resolver',
        'blog/onpush-restarter',
        'shop/onpush-resolver',
        'shop/onpush-restarter',
        `${NAMESPACE}/resolver-snapshot`,
      ].sort(),
    );
    expect(configOf(objects, 'onpush-config')['ONPUSH_NAMESPACES']).toBe('shop,blog');
    // the same rules as the ClusterRoles of the default
    const rulesOf = (o: V1Role | V1ClusterRole | undefined) => JSON.stringify(o?.rules);
    expect(
      rulesOf(
        ofKind<V1Role>(objects, 'Role').find(
          (r) => r.metadata.namespace === 'shop' && r.metadata.name.endsWith('-restarter'),
        ),
      ),
    ).toBe(rulesOf(named<V1ClusterRole>(renders.default, 'ClusterRole', 'onpush-restarter')));
  });

  describe('a fleet: fleet.role hub and cluster, as k8s/overlays/fleet-hub and fleet-cluster', () => {
    const ROLES = ['hub', 'cluster'] as const;

    it("runs exactly its side's services (FLEET_SERVICES), hardened, and no object of the other side's", () => {
      for (const role of ROLES) {
        const objects = fleet[role];
        const services: readonly string[] = FLEET_SERVICES[role];
        const others: string[] = SERVICES.filter((s) => !services.includes(s));
        expect(
          ofKind(objects, 'Deployment')
            .map((d) => d.metadata.name)
            .sort(),
          role,
        ).toEqual([...services].sort());
        expect(
          services.flatMap((s) => serviceFindings(s, objects)),
          role,
        ).toEqual([]);
        // nothing named after, or labelled as, a service of the other side: its Deployment,
        // Service, PDB, autoscaler, ServiceAccount, RBAC, admission policy, ConfigMap, NetworkPolicy
        expect(
          objects
            .filter(
              (o) =>
                others.some((s) => o.metadata.name === s || o.metadata.name.endsWith(`-${s}`)) ||
                others.includes(o.metadata.labels?.['app.kubernetes.io/name'] ?? ''),
            )
            .map((o) => `${o.kind}/${o.metadata.name}`),
          role,
        ).toEqual([]);
        // one autoscaler per service it runs
        expect(
          ofKind<V2HorizontalPodAutoscaler>(objects, 'HorizontalPodAutoscaler')
            .map((h) => h.spec?.scaleTargetRef.name)
            .sort(),
          role,
        ).toEqual([...services].sort());
        // each pod its own NATS identity, the Job the admin's
        const mounted = mountedIdentities(objects);
        expect(mounted, role).toEqual({
          ...Object.fromEntries(services.map((s) => [s, [identitySecretName(s as NatsIdentity)]])),
          provision: [identitySecretName('admin')],
        });
        expect(ofKind(objects, 'Secret'), role).toEqual([]);
      }
      // the hub reaches no Kubernetes API: no RBAC, no admission policy, no egress to the API server
      for (const kind of [
        'ClusterRole',
        'ClusterRoleBinding',
        'Role',
        'RoleBinding',
        'ValidatingAdmissionPolicy',
        'ValidatingAdmissionPolicyBinding',
      ])
        expect(ofKind(fleet.hub, kind), kind).toEqual([]);
      expect(named(fleet.hub, 'NetworkPolicy', 'kube-api-clients')).toBeUndefined();
      // a cluster takes no pushes in: no ingest configuration, no ingest NetworkPolicy
      expect(named(fleet.cluster, 'ConfigMap', 'onpush-ingest')).toBeUndefined();
      expect(named(fleet.cluster, 'NetworkPolicy', 'ingest')).toBeUndefined();
      // and keeps what a restarter needs: its RBAC and the admission policy
      expect(named(fleet.cluster, 'ClusterRole', 'onpush-restarter')).toBeDefined();
      expect(ofKind(fleet.cluster, 'ValidatingAdmissionPolicy')).toHaveLength(1);
    });

    it("opens the hub's leaf-node port and nothing else beside ingest; a cluster only dials out", () => {
      const hubPosture = networkPosture(fleet.hub);
      expect({ ...hubPosture, openToAll: hubPosture.openToAll.sort() }).toEqual({
        denyAll: true,
        openToAll: ['ingest', 'nats-leaf'],
      });
      expect(networkPosture(fleet.cluster)).toEqual({ denyAll: true, openToAll: [] });
      for (const role of ROLES) {
        // each policy applies to pods this side runs; each of its pods reaches NATS
        const pods = labelsOf(fleet[role]);
        for (const p of ofKind<V1NetworkPolicy>(fleet[role], 'NetworkPolicy'))
          expect(
            pods.some((labels) => selects(p.spec?.podSelector, labels)),
            `${role}: ${p.metadata.name}`,
          ).toBe(true);
        const natsClients = named<V1NetworkPolicy>(fleet[role], 'NetworkPolicy', 'nats-clients');
        for (const labels of pods.filter((l) => l['app.kubernetes.io/name'] !== 'nats'))
          expect(
            selects(natsClients?.spec?.podSelector, labels),
            `${role}: ${JSON.stringify(labels)}`,
          ).toBe(true);
      }
      const natsPod = labelsOf(fleet.hub).find((l) => l['app.kubernetes.io/name'] === 'nats') ?? {};
      // the hub: Service nats-leaf (a load balancer) on the NATS pods' port leafnodes, 7422
      const leafService = named<V1Service>(fleet.hub, 'Service', 'nats-leaf');
      expect(leafService?.spec?.type).toBe('LoadBalancer');
      expect(leafService?.spec?.ports).toEqual([
        { name: 'leafnodes', port: 7422, targetPort: 'leafnodes' },
      ]);
      expect(leafService?.spec?.selector?.['app.kubernetes.io/name']).toBe('nats');
      expect(selects({ matchLabels: leafService?.spec?.selector ?? {} }, natsPod)).toBe(true);
      expect(
        container(named<V1StatefulSet>(fleet.hub, 'StatefulSet', 'nats'))?.ports,
      ).toContainEqual({ name: 'leafnodes', containerPort: 7422 });
      const hubPolicy = named<V1NetworkPolicy>(fleet.hub, 'NetworkPolicy', 'nats-leaf');
      expect(selects(hubPolicy?.spec?.podSelector, natsPod)).toBe(true);
      expect(hubPolicy?.spec?.policyTypes).toEqual(['Ingress']);
      expect(hubPolicy?.spec?.ingress).toEqual([{ ports: [{ protocol: 'TCP', port: 7422 }] }]);
      // a cluster: no listener, egress to the hub's leaf-node port only
      expect(named(fleet.cluster, 'Service', 'nats-leaf')).toBeUndefined();
      expect(
        container(named<V1StatefulSet>(fleet.cluster, 'StatefulSet', 'nats'))?.ports?.map(
          (p) => p.name,
        ),
      ).not.toContain('leafnodes');
      const clusterPolicy = named<V1NetworkPolicy>(fleet.cluster, 'NetworkPolicy', 'nats-leaf');
      expect(selects(clusterPolicy?.spec?.podSelector, natsPod)).toBe(true);
      expect(clusterPolicy?.spec?.policyTypes).toEqual(['Egress']);
      expect(clusterPolicy?.spec?.egress).toEqual([{ ports: [{ protocol: 'TCP', port: 7422 }] }]);
    });

    it("takes the leaf Service's type and annotations, and a hub address on another port", async () => {
      const hub = await render({
        set: [
          ...HUB_SET,
          'fleet.hub.leafService.type=NodePort',
          'fleet.hub.leafService.annotations.example\\.com/lb=internal',
        ],
      });
      const leafService = named<V1Service>(hub, 'Service', 'nats-leaf');
      expect(leafService?.spec?.type).toBe('NodePort');
      expect(leafService?.metadata.annotations).toEqual({ 'example.com/lb': 'internal' });
      const cluster = await render({
        set: [
          'fleet.role=cluster',
          `fleet.cluster.name=${FLEET.cluster}`,
          'fleet.cluster.hubLeafUrl=tls://hub.example.com:443',
        ],
      });
      expect(named<V1NetworkPolicy>(cluster, 'NetworkPolicy', 'nats-leaf')?.spec?.egress).toEqual([
        { ports: [{ protocol: 'TCP', port: 443 }] },
      ]);
      expect(natsConfOf(cluster)).toContain('url: "tls://hub.example.com:443"');
    });

    it("provisions each side's streams, and names the cluster in every service's configuration", () => {
      expect(container(ofKind<V1Job>(fleet.hub, 'Job')[0])?.args).toEqual([
        'provision',
        '--replicas',
        '1',
        '--hub',
        '--clusters',
        FLEET.clusters.join(','),
      ]);
      expect(container(ofKind<V1Job>(fleet.cluster, 'Job')[0])?.args).toEqual([
        'provision',
        '--replicas',
        '1',
        '--cluster',
        FLEET.cluster,
      ]);
      expect(configOf(fleet.cluster, 'onpush-config')['CLUSTER_NAME']).toBe(FLEET.cluster);
      expect(configOf(fleet.hub, 'onpush-config')['CLUSTER_NAME']).toBeUndefined();
      expect(configOf(renders.default, 'onpush-config')['CLUSTER_NAME']).toBeUndefined();
      // every service and the Job read it from onpush-config
      for (const d of [
        ...ofKind<V1Deployment>(fleet.cluster, 'Deployment'),
        ...ofKind<V1Job>(fleet.cluster, 'Job'),
      ])
        expect(
          container(d)?.envFrom?.map((e) => e.configMapRef?.name),
          d.metadata.name,
        ).toContain('onpush-config');
    });

    it('takes waves across clusters on both sides (fleet.waves): provisioning, and the hub parser’s FLEET_WAVES', async () => {
      const waves = 'staging=1\\,prod-*=2';
      const hub = await render({ set: [...HUB_SET, `fleet.waves=${waves}`] });
      const cluster = await render({
        set: [
          'fleet.role=cluster',
          `fleet.cluster.name=${FLEET.cluster}`,
          `fleet.cluster.hubLeafUrl=${FLEET.hubLeafUrl}`,
          `fleet.waves=${waves}`,
        ],
      });
      const provisioned = (objects: Obj[]) => container(ofKind<V1Job>(objects, 'Job')[0])?.args;
      expect(provisioned(hub)?.slice(-2)).toEqual(['--fleet-waves', 'staging=1,prod-*=2']);
      expect(provisioned(cluster)?.slice(-2)).toEqual(['--fleet-waves', 'staging=1,prod-*=2']);
      expect(configOf(hub, 'onpush-config')['FLEET_WAVES']).toBe('staging=1,prod-*=2');
      // the clusters' services need not know: their provisioning chose what they copy
      expect(configOf(cluster, 'onpush-config')['FLEET_WAVES']).toBeUndefined();
      expect(configOf(fleet.hub, 'onpush-config')['FLEET_WAVES']).toBeUndefined();
      // a list the parser would refuse is refused by the chart's schema already
      const refused = await run(helm(), [
        'template',
        'x',
        CHART,
        ...[...HUB_SET, 'fleet.waves=prod.eu=2'].flatMap((v) => ['--set', v]),
      ]).catch((error: unknown) => ({ stdout: '', stderr: String(error) }));
      expect(`${refused.stdout}${'stderr' in refused ? refused.stderr : ''}`).toMatch(
        /fleet\/waves/,
      );
    });

    it("links the two NATS (domains, leaf nodes, LEAF_LINK's deny lists), each nats.conf accepted by nats-server", async () => {
      const cases = {
        hub: {
          secrets: [SERVER_SECRET_NAME, LEAF_HUB_SECRET_NAME],
          lines: [
            /^ {2}domain: hub$/m,
            /^leafnodes \{\n {2}port: 7422$/m,
            /^ {2}no_advertise: true$/m,
            /^ {2}isolate_leafnode_interest: true$/m,
            /^ {2}include leaf-auth.conf$/m,
          ],
        },
        cluster: {
          secrets: [SERVER_SECRET_NAME, LEAF_CLUSTER_SECRET_NAME],
          lines: [
            new RegExp(`^ {2}domain: ${FLEET.cluster}$`, 'm'),
            new RegExp(`^ {6}url: "${FLEET.hubLeafUrl}"$`, 'm'),
            /^ {6}include leaf-remote.conf$/m,
            /^ {6}tls \{ ca_file: \/etc\/nats\/leaf-ca.pem \}$/m,
          ],
        },
      } as const;
      const dir = mkdtempSync(join(tmpdir(), 'onpush-chart-fleet-nats-'));
      try {
        ensureCredentials(dir);
        ensureLeafCredentials(dir);
        await ensureTls(dir);
        const secrets = credentialSecrets(dir, NAMESPACE).items;
        for (const role of ROLES) {
          const { secrets: projected, lines } = cases[role];
          const conf = natsConfOf(fleet[role]);
          for (const line of lines) expect(conf, role).toMatch(line);
          // nats.conf beside the Secrets `onpush credentials --secrets` makes for this side
          expect(natsSecretsOf(fleet[role]), role).toEqual([...projected]);
          const here = join(dir, role);
          mkdirSync(here);
          for (const secret of secrets.filter((i) =>
            (projected as readonly string[]).includes(i.metadata.name),
          ))
            for (const [key, value] of Object.entries(secret.data))
              writeFileSync(join(here, key), Buffer.from(value, 'base64'));
          const file = join(here, 'nats.conf');
          // Mounted at /etc/nats in the pod; here in its directory.
          writeFileSync(file, conf.replaceAll('/etc/nats/', `${here}/`));
          const nats = named<V1StatefulSet>(fleet[role], 'StatefulSet', 'nats');
          const env = container(nats)?.env ?? [];
          const values = Object.fromEntries(
            env.filter((e) => e.value).map((e) => [e.name, e.value]),
          );
          const { stderr, stdout } = await run(findNatsServer(), ['-c', file, '-t'], {
            env: { ...process.env, ...values, POD_NAME: 'nats-0' },
          });
          expect(stdout + stderr, role).toContain('is valid');
        }
        // the hub has no remote, a cluster no listener
        expect(natsConfOf(fleet.hub)).not.toMatch(/remotes:/);
        expect(natsConfOf(fleet.cluster)).not.toMatch(/port: 7422/);
        // what crosses a cluster's link is LEAF_LINK's, no more (as the sandbox's and the overlay's)
        const clusterConf = natsConfOf(fleet.cluster);
        expect(listedIn(clusterConf, 'deny_imports')).toEqual([...LEAF_LINK.denyImports]);
        expect(listedIn(clusterConf, 'deny_exports')).toEqual([...LEAF_LINK.denyExports]);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    });

    it("refuses a hub without clusters and a cluster without its name or the hub's address", async () => {
      expect(await refusal('fleet:\n  role: hub\n')).toMatch(/fleet\/hub\/clusters.*minItems/);
      expect(
        await refusal(`fleet:\n  role: cluster\n  cluster:\n    hubLeafUrl: ${FLEET.hubLeafUrl}\n`),
      ).toMatch(/fleet\/cluster\/name.*minLength/);
      expect(await refusal('fleet:\n  role: cluster\n  cluster:\n    name: prod-eu\n')).toMatch(
        /fleet\/cluster\/hubLeafUrl.*minLength/,
      );
      // names a cluster cannot have; a role that does not exist; a typo
      expect(
        await refusal(
          `fleet:\n  role: cluster\n  cluster:\n    name: hub\n    hubLeafUrl: ${FLEET.hubLeafUrl}\n`,
        ),
      ).toMatch(/fleet\/cluster\/name/);
      expect(await refusal('fleet:\n  role: hub\n  hub:\n    clusters: [staging, hub]\n')).toMatch(
        /fleet\/hub\/clusters\/1/,
      );
      expect(await refusal('fleet:\n  role: hub\n  hub:\n    clusters: [Prod_EU]\n')).toMatch(
        /fleet\/hub\/clusters\/0.*pattern/,
      );
      expect(await refusal('fleet:\n  role: leaf\n')).toMatch(/fleet\/role/);
      expect(await refusal('fleet:\n  cluster:\n    nmae: prod-eu\n')).toMatch(
        /'nmae' not allowed/,
      );
      expect(
        await refusal(
          `fleet:\n  role: cluster\n  cluster:\n    name: prod-eu\n    hubLeafUrl: https://hub.example.com\n`,
        ),
      ).toMatch(/fleet\/cluster\/hubLeafUrl/);
      // and takes either side, linted clean
      expect(await refusal(CLUSTER_VALUES)).toBeUndefined();
      for (const args of [
        HUB_SET.flatMap((pair) => ['--set', pair]),
        ['--values', join(valuesDir, 'cluster.yaml')],
      ]) {
        const linted = await run(helm(), ['lint', '--strict', CHART, ...args]);
        expect(linted.stdout, args.join(' ')).toContain('1 chart(s) linted, 0 chart(s) failed');
      }
    });

    it('renders the single-cluster install unchanged with fleet.role none', async () => {
      expect(await render({ set: ['fleet.role=none'] })).toEqual(renders.default);
      expect(await render({ values: [PRODUCTION], set: ['fleet.role=none'] })).toEqual(
        renders.production,
      );
      for (const [name, objects] of Object.entries(renders)) {
        expect(named(objects, 'Service', 'nats-leaf'), name).toBeUndefined();
        expect(named(objects, 'NetworkPolicy', 'nats-leaf'), name).toBeUndefined();
        expect(natsConfOf(objects), name).not.toMatch(/leafnodes|domain:/);
        expect(natsSecretsOf(objects), name).toEqual([SERVER_SECRET_NAME]);
      }
    });
  });

  // Given a real kube-apiserver with RBAC on, and namespace onpush enforcing restricted Pod Security.
  describe('on a real API server', () => {
    const sandbox = useSandbox(['kube'], 'chart');
    const admin = () => loadKubeConfig(sandbox().need('kube').kubeconfigPath);
    const namespaced: { objects: Obj[] } = { objects: [] };
    const SCOPED = 'onpush-scoped';

    beforeAll(async () => {
      namespaced.objects = await render({
        set: ['rbac.namespaces={shop,blog}'],
        namespace: SCOPED,
        release: 'scoped',
      });
      const kc = admin();
      const core = kc.makeApiClient(CoreV1Api);
      for (const name of [NAMESPACE, SCOPED, 'shop', 'blog'])
        await core.createNamespace({ body: { metadata: { name, labels: RESTRICTED } } });
      const extensions = kc.makeApiClient(ApiextensionsV1Api);
      for (const body of OPERATOR_CRDS) await extensions.createCustomResourceDefinition({ body });
      for (const { metadata } of OPERATOR_CRDS)
        await eventually(`CRD ${metadata?.name} established`, async () => {
          const crd = await extensions.readCustomResourceDefinition({ name: metadata?.name ?? '' });
          return crd.status?.conditions?.some(
            (c) => c.type === 'Established' && c.status === 'True',
          );
        });
      const custom = kc.makeApiClient(CustomObjectsApi);
      for (const [group, version, plural] of [
        ['keda.sh', 'v1alpha1', 'scaledobjects'],
        ['monitoring.coreos.com', 'v1', 'prometheusrules'],
      ] as const)
        await eventually(`the API server to serve ${plural}`, () =>
          custom.listNamespacedCustomObject({ group, version, namespace: NAMESPACE, plural }),
        );
    });

    const apply = (o: Obj, dryRun?: 'All') =>
      KubernetesObjectApi.makeApiClient(admin()).patch(
        o,
        undefined,
        dryRun,
        FIELD_MANAGER,
        true,
        PatchStrategy.ServerSideApply,
      );

    it('admits every rendered object (server-side dry run), CRDs of KEDA and Prometheus registered', async () => {
      for (const [name, objects] of [
        ...Object.entries(renders),
        ['namespaced', namespaced.objects] as const,
        // a fleet's two sides: fewer services each, and the leaf-node Service and NetworkPolicy
        ...Object.entries(fleet).map(([role, o]) => [`fleet ${role}`, o] as const),
      ]) {
        const failures: string[] = [];
        for (const o of objects)
          await apply(o, 'All').catch((error: unknown) =>
            failures.push(`${o.kind}/${o.metadata.name}: ${reason(error)}`),
          );
        expect(failures, name).toEqual([]);
        expect(objects.length, name).toBeGreaterThan(name.startsWith('fleet') ? 25 : 30);
      }
    });

    it('runs every pod under the restricted Pod Security Standard', async () => {
      const core = admin().makeApiClient(CoreV1Api);
      for (const [name, objects] of Object.entries(renders)) {
        const templates = podTemplates(objects);
        // five services, the provision Job, NATS
        expect(templates.length, name).toBe(7);
        expect(await refusedPods(core, NAMESPACE, templates), name).toEqual([]);
      }
      for (const [role, objects] of Object.entries(fleet)) {
        const templates = podTemplates(objects);
        // a fleet side's three services, the provision Job, NATS
        expect(templates.length, role).toBe(5);
        expect(await refusedPods(core, NAMESPACE, templates), `fleet ${role}`).toEqual([]);
      }
    });

    it('grants each ServiceAccount what its service needs and refuses the rest it is asked (SubjectAccessReview)', async () => {
      const KINDS = ['ServiceAccount', 'Role', 'RoleBinding', 'ClusterRole', 'ClusterRoleBinding'];
      for (const o of [...renders.default, ...namespaced.objects].filter((x) =>
        KINDS.includes(x.kind ?? ''),
      ))
        await apply(o);
      const authz = admin().makeApiClient(AuthorizationV1Api);
      /** [namespace of the ServiceAccount, ServiceAccount, verb, resource(.group), namespace, name?] */
      type Ask = [string, string, string, string, string, string?];
      const can = (ask: Ask): Promise<boolean> => canAccess(authz, ask);
      const N = NAMESPACE;
      const S = SCOPED;
      const cases: [Ask, boolean][] = [
        [[N, 'restarter', 'patch', 'deployments.apps', 'shop'], true],
        [[N, 'restarter', 'patch', 'deployments.apps', 'default'], true],
        [[N, 'restarter', 'patch', 'cronjobs.batch', 'shop'], true],
        [[N, 'restarter', 'watch', 'deployments.apps', 'shop'], true],
        [[N, 'restarter', 'create', 'events.events.k8s.io', 'shop'], true],
        [[N, 'restarter', 'watch', 'cronjobs.batch', 'shop'], false],
        [[N, 'restarter', 'list', 'deployments.apps', 'shop'], false],
        [[N, 'restarter', 'delete', 'deployments.apps', 'shop'], false],
        [[N, 'restarter', 'get', 'secrets', N], false],
        [[N, 'restarter', 'get', 'secrets', 'shop'], false],
        [[N, 'resolver', 'watch', 'deployments.apps', ''], true],
        [[N, 'resolver', 'list', 'cronjobs.batch', ''], true],
        [[N, 'resolver', 'patch', 'deployments.apps', 'shop'], false],
        [[N, 'resolver', 'get', 'configmaps', N, 'onpush-image-index-15'], true],
        [[N, 'resolver', 'create', 'configmaps', N], true],
        [[N, 'resolver', 'get', 'configmaps', N, 'nats-config'], false],
        [[N, 'resolver', 'get', 'configmaps', N, 'onpush-image-index-16'], false],
        [[N, 'resolver', 'list', 'configmaps', N], false],
        [[N, 'resolver', 'get', 'secrets', N], false],
        [[N, 'resolver', 'list', 'secrets', ''], false],
        ...['ingest', 'parser', 'dlq-manager'].flatMap((sa): [Ask, boolean][] => [
          [[N, sa, 'list', 'deployments.apps', ''], false],
          [[N, sa, 'get', 'secrets', N], false],
          [[N, sa, 'get', 'configmaps', N], false],
        ]),
        // namespaced mode: shop and blog, nowhere else
        [[S, 'restarter', 'patch', 'deployments.apps', 'shop'], true],
        [[S, 'restarter', 'patch', 'deployments.apps', 'blog'], true],
        [[S, 'restarter', 'patch', 'deployments.apps', 'default'], false],
        [[S, 'resolver', 'watch', 'deployments.apps', 'blog'], true],
        [[S, 'resolver', 'watch', 'deployments.apps', ''], false],
        [[S, 'resolver', 'watch', 'deployments.apps', 'default'], false],
        [[S, 'resolver', 'update', 'configmaps', S, 'onpush-image-index'], true],
        [[S, 'resolver', 'update', 'configmaps', N, 'onpush-image-index'], false],
      ];
      await eventually(
        'RBAC to see the rendered bindings',
        async () =>
          (await can([S, 'restarter', 'patch', 'deployments.apps', 'shop'])) &&
          (await can([N, 'restarter', 'patch', 'deployments.apps', 'shop'])),
      );
      const answers = await Promise.all(cases.map(([ask]) => can(ask)));
      const wrong = cases
        .filter(([, allowed], i) => answers[i] !== allowed)
        .map(
          ([[home, sa, verb, res, ns, name], allowed]) =>
            `${home}/${sa} ${allowed ? 'cannot' : 'can'} ${verb} ${res}${name ? ` ${name}` : ''} in ${ns || 'every namespace'}`,
        );
      expect(wrong).toEqual([]);
    });

    it('gives each ServiceAccount nothing more than the kustomize install, as it sees its own rules', async () => {
      // cluster-wide RBAC (the default render, applied above)
      for (const [sa, byNamespace] of Object.entries(expectedRules(NAMESPACE, 'shop')))
        for (const [namespace, rules] of Object.entries(byNamespace))
          expect(
            await ownRules(admin(), NAMESPACE, sa, namespace),
            `${sa} in ${namespace}`,
          ).toEqual([...rules].sort());
    });
  });
});
