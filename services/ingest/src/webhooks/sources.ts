/** Every webhook source ingest accepts: the last token of `onpush.raw.<source>`. */
export const SOURCES = [
  'dockerhub',
  'distribution',
  'harbor',
  'github',
  'quay',
  'acr',
  'eventgrid',
  'ecr',
  'jfrog',
  'cloudevents',
  'gcr',
] as const;
export type Source = (typeof SOURCES)[number];

export const AUTH_TYPES = ['hmac', 'token', 'path', 'oidc', 'sns'] as const;
export type AuthType = (typeof AUTH_TYPES)[number];

interface SourceSpec {
  /** How this sender can authenticate, the first being the usual one. */
  readonly auth: readonly AuthType[];
  /** The header a shared token arrives in unless configured otherwise. */
  readonly tokenHeader: string;
  /** Answers the CloudEvents webhook validation (`OPTIONS` with WebHook-Request-Origin). */
  readonly options: boolean;
  /** Also accepts `text/plain` (SNS posts its JSON as text/plain). */
  readonly textPlain: boolean;
}

const spec = (auth: readonly AuthType[], more: Partial<SourceSpec> = {}): SourceSpec => ({
  auth,
  tokenHeader: 'authorization',
  options: false,
  textPlain: false,
  ...more,
});

/**
 * What each sender can do. Docker Hub and Quay cannot send a secret header, so they get a
 * secret path token; GitHub signs; Pub/Sub push carries a Google OIDC token; SNS signs with a
 * certificate; the rest send a configured header.
 */
export const SOURCE_SPECS: Readonly<Record<Source, SourceSpec>> = {
  dockerhub: spec(['path']),
  quay: spec(['path']),
  distribution: spec(['token', 'path']),
  harbor: spec(['token', 'path']),
  github: spec(['hmac']),
  acr: spec(['token', 'path']),
  eventgrid: spec(['token', 'path'], { options: true }),
  ecr: spec(['sns', 'token', 'path'], { textPlain: true }),
  jfrog: spec(['token', 'path'], { tokenHeader: 'x-jfrog-event-auth' }),
  cloudevents: spec(['token', 'hmac', 'path'], { options: true }),
  gcr: spec(['oidc']),
};

/**
 * Request headers never copied onto the stream (credentials and signatures), whatever the
 * endpoint; an endpoint's own configured secret header is added to these.
 */
export const SECRET_HEADERS: ReadonlySet<string> = new Set([
  'authorization',
  'proxy-authorization',
  'cookie',
  'set-cookie',
  'x-hub-signature',
  'x-hub-signature-256',
  'x-jfrog-event-auth',
  'x-api-key',
]);
