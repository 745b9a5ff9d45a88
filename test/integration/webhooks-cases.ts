// The webhook endpoints of the integration test and, per source, the requests a registry sends
// (its documented example and variants written from its format) with what must become of them.
import { fixture, hubSignature } from './webhooks-harness.js';

export const D1 = `sha256:${'a1'.repeat(32)}`;
export const D2 = `sha256:${'b2'.repeat(32)}`;
export const TOPIC = 'arn:aws:sns:us-west-2:123456789012:ecr-pushes';
export const AUDIENCE = 'https://onpush.example.com/webhooks/pubsub';
export const PUSHER = 'registry-push@my-project.iam.gserviceaccount.com';

/** Secrets as the operator mounts them (path tokens in files, the rest in the environment). */
export const SECRETS = {
  hub: 'hubT0ken-0123456789abcdefghijklmnopqrstuvwxyz',
  quay: 'quayT0ken-0123456789abcdefghijklmnopqrstuvwxyz',
  dist: 'dist-secret-0123456789',
  harborA: 'Basic aGFyYm9yLWE6c2VjcmV0LWE=',
  harborB: 'Basic aGFyYm9yLWI6c2VjcmV0LWI=',
  github: 'github-webhook-secret-0123',
  acr: 'acr-header-secret-0123456',
  grid: 'eventgrid-secret-0123456',
  ecr: 'api-destination-key-0123',
  jfrog: 'jfrog-event-auth-0123456',
  ce: 'cloudevents-token-0123456',
} as const;

/** The endpoints; `extra` is merged into each (e.g. a rate limit). */
export function endpoints(dir: string, local: string, extra: object = {}): unknown[] {
  const env = (type: string, name: string, more: object = {}) => ({
    type,
    secretEnv: name,
    ...more,
  });
  const list: object[] = [
    { name: 'hub', source: 'dockerhub', auth: { type: 'path', secretFile: `${dir}/hub-token` } },
    { name: 'quay', source: 'quay', auth: { type: 'path', secretFile: `${dir}/quay-token` } },
    {
      name: 'dist',
      source: 'distribution',
      auth: env('token', 'DIST_TOKEN', { prefix: 'Bearer ' }),
    },
    { name: 'harbor-a', source: 'harbor', auth: env('token', 'HARBOR_A') },
    { name: 'harbor-b', source: 'harbor', auth: env('token', 'HARBOR_B') },
    { name: 'gh', source: 'github', auth: env('hmac', 'GH_SECRET') },
    { name: 'acr', source: 'acr', auth: env('token', 'ACR_TOKEN', { header: 'X-Onpush-Token' }) },
    {
      name: 'grid',
      source: 'eventgrid',
      auth: env('token', 'GRID_TOKEN', { header: 'X-Onpush-Token' }),
    },
    {
      name: 'ecr-sns',
      source: 'ecr',
      auth: { type: 'sns', topicArns: [TOPIC], certOrigin: local.replaceAll('.', '\\.') },
    },
    { name: 'ecr-api', source: 'ecr', auth: env('token', 'ECR_KEY', { header: 'x-api-key' }) },
    {
      name: 'art',
      source: 'jfrog',
      auth: env('token', 'JFROG_AUTH'),
      registryHost: 'art.example.com',
    },
    { name: 'ce', source: 'cloudevents', auth: env('token', 'CE_TOKEN', { prefix: 'Bearer ' }) },
    {
      name: 'pubsub',
      source: 'gcr',
      auth: {
        type: 'oidc',
        audience: AUDIENCE,
        email: PUSHER,
        jwksUrl: `${local}/oauth2/v3/certs`,
      },
    },
  ];
  return list.map((endpoint) => ({ ...endpoint, ...extra }));
}

export const secretEnv = {
  DIST_TOKEN: SECRETS.dist,
  HARBOR_A: SECRETS.harborA,
  HARBOR_B: SECRETS.harborB,
  GH_SECRET: SECRETS.github,
  ACR_TOKEN: SECRETS.acr,
  GRID_TOKEN: SECRETS.grid,
  ECR_KEY: SECRETS.ecr,
  JFROG_AUTH: SECRETS.jfrog,
  CE_TOKEN: SECRETS.ce,
};

export type Expect = { pushed: Record<string, string | undefined>[] } | { ignored: string };

export interface Case {
  what: string;
  endpoint: string;
  body: string;
  headers?: Record<string, string>;
  expect: Expect;
}

const json = (value: unknown): string => JSON.stringify(value);

const ghPackage = (action: string, tag: string, digest: string, kind = 'package') =>
  json({
    action,
    [kind]: {
      name: 'Web',
      namespace: 'Acme',
      package_type: 'CONTAINER',
      owner: { login: 'Acme' },
      package_version: {
        version: digest,
        container_metadata: { tag: { name: tag, digest }, manifest: { digest } },
      },
    },
    sender: { login: 'Acme' },
  });

const distEvent = (action: string, target: object) =>
  json({
    events: [
      {
        id: `d-${action}`,
        action,
        target: { repository: 'team/app', ...target },
        request: { host: 'registry.example.com:5000' },
      },
    ],
  });

const harborCe = json({
  specversion: '1.0',
  id: '66e18103-09c1-41f6-982f-37df223f3eeb',
  source: '/projects/2/webhook/policies/15',
  type: 'harbor.artifact.pushed',
  datacontenttype: 'application/json',
  time: '2023-04-03T06:04:46Z',
  data: {
    resources: [{ digest: D1, tag: 'v1', resource_url: 'harbor-b.example.com/lib/app:v1' }],
    repository: { name: 'app', namespace: 'lib', repo_full_name: 'lib/app', repo_type: 'private' },
  },
});

const bridge = (detail: object) =>
  json({
    version: '0',
    id: 'eb-2',
    'detail-type': 'ECR Image Action',
    source: 'aws.ecr',
    account: '123456789012',
    time: '2026-11-26T09:00:00Z',
    region: 'eu-west-1',
    resources: [],
    detail: {
      result: 'SUCCESS',
      'repository-name': 'team/app',
      'action-type': 'PUSH',
      'image-digest': D1,
      'image-tag': 'v1',
      ...detail,
    },
  });

const ce = (id: string, type: string, data: unknown) => ({
  specversion: '1.0',
  id,
  source: 'ci://builds',
  type,
  datacontenttype: 'application/json',
  data,
});

const p = (image: string, tag?: string, digest?: string) => ({ image, tag, digest });

export const CASES: Case[] = [
  {
    what: 'Docker Hub: the documented push',
    endpoint: 'hub',
    body: fixture('dockerhub-push.json'),
    expect: { pushed: [p('docker.io/svendowideit/testhook', 'latest')] },
  },
  {
    what: 'Docker Hub: an official image',
    endpoint: 'hub',
    body: json({
      push_data: { tag: '1.27', pushed_at: 1_700_000_000 },
      repository: { repo_name: 'library/nginx', namespace: 'library', name: 'nginx' },
    }),
    expect: { pushed: [p('docker.io/library/nginx', '1.27')] },
  },
  {
    what: 'Distribution: the documented batch (a manifest and two layers)',
    endpoint: 'dist',
    body: fixture('distribution-push-batch.json'),
    expect: {
      pushed: [
        p(
          'registrycluster.local/library/test',
          undefined,
          'sha256:fea8895f450959fa676bcc1df0611ea93823a735a01205fd8622846041d0c7cf',
        ),
      ],
    },
  },
  {
    what: 'Distribution: a tagged manifest push',
    endpoint: 'dist',
    body: distEvent('push', {
      mediaType: 'application/vnd.oci.image.manifest.v1+json',
      tag: 'v2',
      digest: D2,
    }),
    expect: { pushed: [p('registry.example.com:5000/team/app', 'v2', D2)] },
  },
  {
    what: 'Distribution: a delete',
    endpoint: 'dist',
    body: distEvent('delete', { digest: D1 }),
    expect: { ignored: 'delete' },
  },
  {
    what: 'Harbor: the documented push by digest',
    endpoint: 'harbor-a',
    body: fixture('harbor-default-push.json'),
    expect: {
      pushed: [
        p(
          'localhost/harbor/alpine',
          undefined,
          'sha256:954b378c375d852eb3c63ab88978f640b4348b01c1b3456a024a81536dafbbf4',
        ),
      ],
    },
  },
  {
    what: 'Harbor (second instance): CloudEvents format',
    endpoint: 'harbor-b',
    body: harborCe,
    headers: { 'content-type': 'application/cloudevents+json' },
    expect: { pushed: [p('harbor-b.example.com/lib/app', 'v1', D1)] },
  },
  {
    what: 'Harbor: a delete',
    endpoint: 'harbor-a',
    body: json({
      type: 'DELETE_ARTIFACT',
      occur_at: 1,
      operator: 'x',
      event_data: {
        resources: [{ digest: D1, tag: 'v1', resource_url: 'h.example.com/lib/app:v1' }],
        repository: { name: 'app', namespace: 'lib', repo_full_name: 'lib/app' },
      },
    }),
    expect: { ignored: 'delete' },
  },
  {
    what: 'GitHub: the documented package event',
    endpoint: 'gh',
    body: fixture('ghcr-package-published.json'),
    headers: { 'x-github-event': 'package' },
    expect: { pushed: [p('ghcr.io/codertocat/hello-world-npm')] },
  },
  {
    what: 'GitHub: a tagged container package',
    endpoint: 'gh',
    body: ghPackage('published', 'v2', D2),
    headers: { 'x-github-event': 'package' },
    expect: { pushed: [p('ghcr.io/acme/web', 'v2', D2)] },
  },
  {
    what: 'GitHub: the legacy registry_package event',
    endpoint: 'gh',
    body: ghPackage('published', 'v3', D1, 'registry_package'),
    headers: { 'x-github-event': 'registry_package' },
    expect: { pushed: [p('ghcr.io/acme/web', 'v3', D1)] },
  },
  {
    what: 'GitHub: a deleted version',
    endpoint: 'gh',
    body: ghPackage('deleted', 'v2', D2),
    headers: { 'x-github-event': 'package' },
    expect: { ignored: 'delete' },
  },
  {
    what: 'Quay: the documented push',
    endpoint: 'quay',
    body: fixture('quay-push.json'),
    expect: { pushed: [p('quay.io/mynamespace/repository', 'latest')] },
  },
  {
    what: 'ACR: the documented push',
    endpoint: 'acr',
    body: fixture('acr-webhook-push.json'),
    expect: { pushed: [p('myregistry.azurecr.io/hello-world', 'v1')] },
  },
  {
    what: 'ACR: a delete',
    endpoint: 'acr',
    body: json({
      id: 'acr-del',
      action: 'delete',
      target: { repository: 'hello-world', digest: D1 },
      request: { host: 'myregistry.azurecr.io' },
    }),
    expect: { ignored: 'delete' },
  },
  {
    what: 'Event Grid: the documented ImagePushed',
    endpoint: 'grid',
    body: fixture('acr-eventgrid-imagepushed.json'),
    expect: {
      pushed: [
        p(
          'demo.azurecr.io/aci-helloworld',
          'v1',
          'sha256:213bbc182920ab41e18edc2001e06abcca6735d87782d9cef68abd83941cf0e5',
        ),
      ],
    },
  },
  {
    what: 'Event Grid: ImageDeleted',
    endpoint: 'grid',
    body: json([
      {
        id: 'g-del',
        eventType: 'Microsoft.ContainerRegistry.ImageDeleted',
        subject: 'app',
        eventTime: '2026-11-26T09:00:00Z',
        data: {
          action: 'delete',
          target: { repository: 'app', digest: D1 },
          request: { host: 'demo.azurecr.io' },
        },
        dataVersion: '2.0',
      },
    ]),
    expect: { ignored: 'delete' },
  },
  {
    what: 'ECR through an API destination: EventBridge event',
    endpoint: 'ecr-api',
    body: bridge({}),
    expect: { pushed: [p('123456789012.dkr.ecr.eu-west-1.amazonaws.com/team/app', 'v1', D1)] },
  },
  {
    what: 'JFrog: the documented tag push (host configured)',
    endpoint: 'art',
    body: fixture('jfrog-docker-tag-pushed.json'),
    expect: {
      pushed: [
        p(
          'art.example.com/library/ubuntu',
          'latest',
          'sha256:35c4a2c15539c6c1e4e5fa4e554dac323ad0107d8eb5c582d6ff386b383b7dce',
        ),
      ],
    },
  },
  {
    what: 'JFrog: a delete',
    endpoint: 'art',
    body: json({
      domain: 'docker',
      event_type: 'deleted',
      data: {
        repo_key: 'docker-local',
        image_name: 'team/app',
        tag: 'v1',
        sha256: 'a1'.repeat(32),
        path: 'team/app/v1/manifest.json',
      },
    }),
    expect: { ignored: 'delete' },
  },
  {
    what: 'CloudEvents: structured mode',
    endpoint: 'ce',
    body: json(
      ce('ce-1', 'dev.example.image.pushed', { image: `reg.example.com/team/app:v3@${D1}` }),
    ),
    headers: { 'content-type': 'application/cloudevents+json; charset=utf-8' },
    expect: { pushed: [p('reg.example.com/team/app', 'v3', D1)] },
  },
  {
    what: 'CloudEvents: binary mode',
    endpoint: 'ce',
    body: json({ image: 'reg.example.com/team/api:v4' }),
    headers: {
      'ce-specversion': '1.0',
      'ce-id': 'ce-2',
      'ce-type': 'dev.example.image.pushed',
      'ce-source': 'ci://builds',
    },
    expect: { pushed: [p('reg.example.com/team/api', 'v4')] },
  },
  {
    what: 'CloudEvents: batch mode',
    endpoint: 'ce',
    body: json([
      ce('b1', 'x.pushed', { image: 'reg.example.com/a:1' }),
      ce('b2', 'x.deleted', { image: 'reg.example.com/b:1' }),
      ce('b3', 'x.pushed', { image: 'reg.example.com/c:3' }),
    ]),
    headers: { 'content-type': 'application/cloudevents-batch+json' },
    expect: { pushed: [p('reg.example.com/a', '1'), p('reg.example.com/c', '3')] },
  },
];

/** The raw subject token each endpoint stores on. */
export const SOURCE: Record<string, string> = {
  hub: 'dockerhub',
  quay: 'quay',
  dist: 'distribution',
  'harbor-a': 'harbor',
  'harbor-b': 'harbor',
  gh: 'github',
  acr: 'acr',
  grid: 'eventgrid',
  'ecr-sns': 'ecr',
  'ecr-api': 'ecr',
  art: 'jfrog',
  ce: 'cloudevents',
  pubsub: 'gar',
};

/** The credentials each endpoint's sender sends (as configured on the registry). */
export function credentials(
  endpoint: string,
  body: string,
): { path: string; headers: Record<string, string> } {
  switch (endpoint) {
    case 'hub':
      return { path: `/webhooks/hub/${SECRETS.hub}`, headers: {} };
    case 'quay':
      return { path: `/webhooks/quay/${SECRETS.quay}`, headers: {} };
    case 'dist':
      return { path: '/webhooks/dist', headers: { authorization: `Bearer ${SECRETS.dist}` } };
    case 'harbor-a':
      return { path: '/webhooks/harbor-a', headers: { authorization: SECRETS.harborA } };
    case 'harbor-b':
      return { path: '/webhooks/harbor-b', headers: { authorization: SECRETS.harborB } };
    case 'gh':
      return {
        path: '/webhooks/gh',
        headers: {
          'x-hub-signature-256': hubSignature(SECRETS.github, body),
          'x-github-delivery': `gh-${Math.random()}`,
        },
      };
    case 'acr':
      return { path: '/webhooks/acr', headers: { 'x-onpush-token': SECRETS.acr } };
    case 'grid':
      return { path: '/webhooks/grid', headers: { 'x-onpush-token': SECRETS.grid } };
    case 'ecr-api':
      return { path: '/webhooks/ecr-api', headers: { 'x-api-key': SECRETS.ecr } };
    case 'art':
      return { path: '/webhooks/art', headers: { 'x-jfrog-event-auth': SECRETS.jfrog } };
    case 'ce':
      return { path: '/webhooks/ce', headers: { authorization: `Bearer ${SECRETS.ce}` } };
    default:
      return { path: `/webhooks/${endpoint}`, headers: {} };
  }
}
