// An in-memory stand-in for the API server calls the restarter makes (KubeHttp: GET and PATCH
// of a Deployment), for unit tests: it keeps Deployments' labels, containers, pod-template
// annotations and resourceVersion, applies restart patches (refusing a stale resourceVersion with 409 as the API
// server does), and fails as KubeHttp does (KubeApiError with the status and Retry-After).
import { KubeApiError, parseRetryAfter, type KubeHttp, type KubeResponse } from '@onpush/kube';
import { TokenBucket } from '@onpush/service';
import { createMetrics } from '@onpush/telemetry';
import { kubeEffects } from './kube.js';
import type { RestartEffects } from './machine.js';
import { kubeRequestCounter } from './metrics.js';

type Verb = 'get' | 'patch';
type Annotations = Record<string, string>;

interface Ref {
  namespace: string;
  name: string;
}

interface PatchBody {
  metadata?: { resourceVersion?: string };
  spec: { template: { metadata: { annotations: Annotations } } };
}

interface Stored {
  annotations: Annotations;
  resourceVersion: number;
  labels: Record<string, string>;
  /** The object's own annotations (settings, opt-in by annotation). */
  settings: Record<string, string>;
  containers: { name: string; image: string }[];
}

/** How a Deployment is made: by default opted in, one container `main` of the tests' image. */
export interface FakeDeployment {
  labels?: Record<string, string>;
  settings?: Record<string, string>;
  containers?: { name: string; image: string }[];
}

export const FAKE_IMAGE = 'us-docker.pkg.dev/acme/shop/web';

export interface FakeCall extends Ref {
  verb: Verb;
  body?: PatchBody;
  contentType?: string;
}

/** A failure as KubeHttp reports it: the HTTP status, the Status message, Retry-After. */
export class FakeApiException extends KubeApiError {
  constructor(code: number, message: string, headers: Record<string, string> = {}) {
    super(message, { status: code, retryAfterMs: parseRetryAfter(headers['retry-after']) });
  }
}

const PATH = /^\/apis\/apps\/v1\/namespaces\/([^/]+)\/deployments\/([^/?]+)(?:\?(.*))?$/;

function refOf(path: string): Ref {
  const match = PATH.exec(path);
  if (!match) throw new Error(`fake API server: unexpected path ${path}`);
  return { namespace: decodeURIComponent(match[1]!), name: decodeURIComponent(match[2]!) };
}

/** A write must name onpush's field manager, as every write onpush makes does. */
function requireFieldManager(path: string): void {
  const query = new URLSearchParams(PATH.exec(path)?.[3] ?? '');
  if (query.get('fieldManager') !== 'onpush')
    throw new Error(`fake API server: a write without fieldManager=onpush: ${path}`);
}

export class FakeApps implements KubeHttp {
  readonly calls: FakeCall[] = [];
  private readonly deployments = new Map<string, Stored>();
  private readonly failures: { verb: Verb; error: Error }[] = [];
  private version = 100;

  add(
    namespace: string,
    name: string,
    annotations: Annotations = {},
    made: FakeDeployment = {},
  ): this {
    this.deployments.set(`${namespace}/${name}`, {
      annotations: { ...annotations },
      resourceVersion: ++this.version,
      labels: made.labels ?? { 'onpush.dev/enabled': 'true' },
      settings: made.settings ?? {},
      containers: made.containers ?? [{ name: 'main', image: `${FAKE_IMAGE}:1.0` }],
    });
    return this;
  }

  annotations(namespace: string, name: string): Annotations | undefined {
    return this.deployments.get(`${namespace}/${name}`)?.annotations;
  }

  /** Another writer changes the object (a status update, another restarter): a new version. */
  touch(namespace: string, name: string, annotations: Annotations = {}): void {
    const stored = this.deployments.get(`${namespace}/${name}`);
    if (!stored) throw new Error(`no deployment ${namespace}/${name}`);
    Object.assign(stored.annotations, annotations);
    stored.resourceVersion = ++this.version;
  }

  /** The next `verb` call rejects with `error`. */
  fail(verb: Verb, error: Error): this {
    this.failures.push({ verb, error });
    return this;
  }

  verbs(): Verb[] {
    return this.calls.map((call) => call.verb);
  }

  async get<T>(path: string): Promise<KubeResponse<T>> {
    const ref = refOf(path);
    this.calls.push({ verb: 'get', ...ref });
    const stored = await this.answer('get', ref);
    return { status: 200, data: objectOf(ref, stored) as T };
  }

  async patch<T>(path: string, patch: unknown, contentType: string): Promise<KubeResponse<T>> {
    const { namespace, name } = refOf(path);
    requireFieldManager(path);
    const body = patch as PatchBody;
    this.calls.push({ verb: 'patch', namespace, name, body, contentType });
    const stored = await this.answer('patch', { namespace, name });
    const precondition = body.metadata?.resourceVersion;
    if (precondition !== undefined && precondition !== String(stored.resourceVersion)) {
      const message = `Operation cannot be fulfilled on deployments.apps "${name}": the object has been modified`;
      throw new FakeApiException(409, message);
    }
    Object.assign(stored.annotations, body.spec.template.metadata.annotations);
    stored.resourceVersion = ++this.version;
    // as the API server does: the object as the PATCH left it
    return { status: 200, data: objectOf({ namespace, name }, stored) as T };
  }

  /** Events: accepted and kept (`posted`). */
  readonly posted: { path: string; body: unknown }[] = [];
  post<T>(path: string, body: unknown): Promise<KubeResponse<T>> {
    this.posted.push({ path, body });
    return Promise.resolve({ status: 201, data: body as T });
  }

  close(): void {}

  /** The stored object after one network hop, or the injected failure, or a 404. */
  private async answer(verb: Verb, { namespace, name }: Ref): Promise<Stored> {
    await Promise.resolve();
    const index = this.failures.findIndex((failure) => failure.verb === verb);
    const [failure] = index >= 0 ? this.failures.splice(index, 1) : [];
    if (failure) throw failure.error;
    const stored = this.deployments.get(`${namespace}/${name}`);
    if (stored === undefined) {
      throw new FakeApiException(404, `deployments.apps "${name}" not found`);
    }
    return stored;
  }
}

/** The Deployment as the API server would send it. */
function objectOf(ref: Ref, stored: Stored): unknown {
  const metadata = {
    ...ref,
    resourceVersion: String(stored.resourceVersion),
    labels: { ...stored.labels },
    annotations: { ...stored.settings },
  };
  const template = {
    metadata: { annotations: { ...stored.annotations } },
    spec: { containers: stored.containers.map((c) => ({ ...c })) },
  };
  return { metadata, spec: { selector: {}, template } };
}

/** The fake as the KubeHttp the restarter's effects take. */
export function fakeHttp(apps: FakeApps): KubeHttp {
  return apps;
}

/** The restarter's effects against the fake, with a generous rate limit. */
export function fakeEffects(apps: FakeApps, name = 'fake-apps'): RestartEffects {
  return kubeEffects({
    http: fakeHttp(apps),
    bucket: new TokenBucket({ qps: 100, burst: 100 }),
    requests: kubeRequestCounter(createMetrics(name).registry),
  });
}
