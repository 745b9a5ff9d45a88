import { describe, expect, it } from 'vitest';
import { ConfigError, type Env } from '@onpush/config';
import { loadIngestConfig } from '../config.js';

const TOKEN = 'Zx8_k2-PqLmN0vBc7TgHs4JdWe9RyUiO';
const files: Record<string, string> = {
  '/run/secrets/hub': `${TOKEN}\n`,
  '/run/secrets/short': 'abc\n',
  '/etc/onpush/webhooks.json': JSON.stringify({
    endpoints: [
      { name: 'hub', source: 'dockerhub', auth: { type: 'path', secretFile: '/run/secrets/hub' } },
    ],
  }),
};
const readFile = (path: string): string => {
  const text = files[path];
  if (text === undefined) throw Object.assign(new Error('no such file'), { code: 'ENOENT' });
  return text;
};
const base: Env = { PUBSUB_PULL: 'false' };

function problems(env: Env): string[] {
  try {
    loadIngestConfig({ ...base, ...env }, readFile);
  } catch (error) {
    if (error instanceof ConfigError) return error.message.split('\n');
    throw error;
  }
  throw new Error('expected a ConfigError');
}

const webhooks = (...endpoints: unknown[]) => ({ WEBHOOKS: JSON.stringify(endpoints) });

describe('webhook configuration', () => {
  it('without WEBHOOKS there are no endpoints: only the Pub/Sub push routes', () => {
    expect(loadIngestConfig(base, readFile).endpoints).toBeUndefined();
  });

  it('reads WEBHOOKS_FILE and the secrets it names, with defaults', () => {
    const { endpoints } = loadIngestConfig(
      { ...base, WEBHOOKS_FILE: '/etc/onpush/webhooks.json' },
      readFile,
    );
    expect(endpoints).toHaveLength(1);
    expect(endpoints?.[0]).toMatchObject({
      name: 'hub',
      source: 'dockerhub',
      auth: { type: 'path' },
      rateLimit: { perSecond: 200, burst: 2_000 },
      maxBodyBytes: 1024 * 1024,
    });
    const auth = endpoints?.[0]?.auth;
    expect(auth?.type === 'path' && auth.secret.equals(TOKEN)).toBe(true);
    expect(JSON.stringify(endpoints)).not.toContain(TOKEN);
  });

  it('reads a secret from the environment and defaults the header per source', () => {
    const { endpoints } = loadIngestConfig(
      {
        ...base,
        ...webhooks({
          name: 'art',
          source: 'jfrog',
          auth: { type: 'token', secretEnv: 'JF' },
          registryHost: 'art.example.com',
        }),
        JF: 'sixteen-chars-ok!',
      },
      readFile,
    );
    expect(endpoints?.[0]?.auth).toMatchObject({
      type: 'token',
      header: 'x-jfrog-event-auth',
      prefix: '',
    });
  });

  it('lists every problem at once, one line each, naming the variable and the endpoint, never a secret', () => {
    const lines = problems({
      PORT: 'eighty',
      ...webhooks(
        { name: 'hub', source: 'dockerhub', auth: { type: 'token', secretEnv: 'X' } },
        { name: 'gh', source: 'github', auth: { type: 'hmac', secret: 'inline-secret-value' } },
        { name: 'short', source: 'quay', auth: { type: 'path', secretFile: '/run/secrets/short' } },
        {
          name: 'gone',
          source: 'harbor',
          auth: { type: 'token', secretFile: '/run/secrets/none' },
        },
        { name: 'env', source: 'harbor', auth: { type: 'token', secretEnv: 'UNSET_VAR' } },
        { name: 'Bad Name', source: 'nexus', auth: { type: 'magic' } },
        { name: 'pubsub', source: 'gcr', auth: { type: 'oidc', audience: 'https://x' } },
        { name: 'gh', source: 'github', auth: { type: 'hmac', secretEnv: 'GH' } },
      ),
      GH: 'a-long-enough-secret',
    });
    expect(lines).toEqual([
      'PORT: must be a port number (0-65535) (got "eighty")',
      'WEBHOOKS: endpoint "hub" (item 1): auth.type: source dockerhub accepts path',
      'WEBHOOKS: endpoint "gh" (item 2): auth: Unrecognized key: "secret"',
      'WEBHOOKS: endpoint "short" (item 3): auth: the secret must be at least 32 characters',
      'WEBHOOKS: endpoint "gone" (item 4): auth.secretFile: cannot read /run/secrets/none (ENOENT)',
      'WEBHOOKS: endpoint "env" (item 5): auth: the secret in $UNSET_VAR is empty or unset',
      'WEBHOOKS: endpoint "Bad Name" (item 6): name: must be a DNS label (a-z, 0-9, "-", "_")',
      'WEBHOOKS: endpoint "Bad Name" (item 6): source: must be one of dockerhub, distribution, harbor, github, quay, acr, eventgrid, ecr, jfrog, cloudevents, gcr',
      'WEBHOOKS: endpoint "Bad Name" (item 6): auth.type: must be an object whose type is one of hmac, token, path, oidc, sns',
      'WEBHOOKS: endpoint "pubsub" (item 7): auth.email: must be a string or a non-empty list of strings',
      'WEBHOOKS: endpoint "gh" (item 8): name: used by another endpoint',
    ]);
    expect(lines.join('\n')).not.toContain('inline-secret-value');
  });

  it('binds an endpoint to repository globs, and refuses what is not one', () => {
    const endpoint = (repositories: unknown) => ({
      name: 'reg',
      source: 'distribution',
      auth: { type: 'token', secretEnv: 'T' },
      repositories,
    });
    const env = (repositories: unknown) => ({
      ...base,
      ...webhooks(endpoint(repositories)),
      T: 'sixteen-chars-ok!',
    });
    const { endpoints } = loadIngestConfig(env(['team-a/*', 'shared/**']), readFile);
    expect(endpoints?.[0]?.repositories).toEqual(['team-a/*', 'shared/**']);
    expect(problems(env(['Team A/(x)+']))).toEqual([
      'WEBHOOKS: endpoint "reg" (item 1): repositories.0: must be a repository glob: a-z 0-9 . _ - / and * (within a segment), ** (across), ?',
    ]);
    expect(problems(env([]))).toEqual([
      'WEBHOOKS: endpoint "reg" (item 1): repositories: must list at least one repository glob',
    ]);
  });

  it.each([
    [{ WEBHOOKS: '{not json' }, /^WEBHOOKS: not JSON/],
    [{ WEBHOOKS: '{"endpoints": 3}' }, /^WEBHOOKS: must be a JSON array of endpoints/],
    [{ WEBHOOKS: '[]' }, /^WEBHOOKS: lists no endpoint$/],
    [{ WEBHOOKS_FILE: '/nope.json' }, /^WEBHOOKS_FILE: cannot read \/nope.json \(ENOENT\)$/],
    [
      { WEBHOOKS: '[]', WEBHOOKS_FILE: '/x' },
      /^WEBHOOKS: set WEBHOOKS or WEBHOOKS_FILE, not both$/,
    ],
  ])('%j', (env, expected) => {
    const lines = problems(env);
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(expected);
  });
});
