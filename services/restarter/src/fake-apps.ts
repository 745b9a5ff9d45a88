// An in-memory stand-in for the AppsV1Api calls the restarter makes, for unit tests: it keeps
// Deployments' pod-template annotations and resourceVersion, applies restart patches (refusing a
// stale resourceVersion with 409 as the API server does), and fails like client-node does (an
// ApiException with `code`, the Status body as JSON text and lower-case response headers).
import type { KubeClients } from '@onpush/kube';

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

interface Middleware {
  pre(context: { setHeaderParam(key: string, value: string): void }): unknown;
}

interface Stored {
  annotations: Annotations;
  resourceVersion: number;
}

export interface FakeCall extends Ref {
  verb: Verb;
  body?: PatchBody;
  contentType?: string;
}

/** Shaped like client-node's ApiException. */
export class FakeApiException extends Error {
  readonly body: string;
  constructor(
    readonly code: number,
    message: string,
    readonly headers: Record<string, string> = {},
  ) {
    super(`HTTP-Code: ${code}`);
    const status = { kind: 'Status', apiVersion: 'v1', status: 'Failure', message, code };
    this.body = JSON.stringify(status);
  }
}

export class FakeApps {
  readonly calls: FakeCall[] = [];
  private readonly deployments = new Map<string, Stored>();
  private readonly failures: { verb: Verb; error: Error }[] = [];
  private version = 100;

  add(namespace: string, name: string, annotations: Annotations = {}): this {
    this.deployments.set(`${namespace}/${name}`, {
      annotations: { ...annotations },
      resourceVersion: ++this.version,
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

  async readNamespacedDeploymentWithHttpInfo(ref: Ref) {
    this.calls.push({ verb: 'get', ...ref });
    const stored = await this.answer('get', ref);
    const metadata = { ...ref, resourceVersion: String(stored.resourceVersion) };
    const template = { metadata: { annotations: { ...stored.annotations } } };
    return { httpStatusCode: 200, data: { metadata, spec: { selector: {}, template } } };
  }

  async patchNamespacedDeploymentWithHttpInfo(
    request: Ref & { body: PatchBody },
    options?: { middleware?: Middleware[] },
  ) {
    const headers: Record<string, string> = {};
    for (const middleware of options?.middleware ?? []) {
      middleware.pre({ setHeaderParam: (key, value) => (headers[key] = value) });
    }
    const { namespace, name, body } = request;
    const call: FakeCall = { verb: 'patch', namespace, name, body };
    if (headers['Content-Type'] !== undefined) call.contentType = headers['Content-Type'];
    this.calls.push(call);
    const stored = await this.answer('patch', request);
    const precondition = body.metadata?.resourceVersion;
    if (precondition !== undefined && precondition !== String(stored.resourceVersion)) {
      const message = `Operation cannot be fulfilled on deployments.apps "${name}": the object has been modified`;
      throw new FakeApiException(409, message);
    }
    Object.assign(stored.annotations, body.spec.template.metadata.annotations);
    stored.resourceVersion = ++this.version;
    return { httpStatusCode: 200, data: { metadata: { namespace, name } } };
  }

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

/** KubeClients whose `apps` is the fake (the only API the restarter uses for Deployments). */
export function fakeClients(apps: FakeApps): KubeClients {
  return { apps } as unknown as KubeClients;
}
