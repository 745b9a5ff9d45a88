import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { KubeConfig } from '@kubernetes/client-node';
import { kubeHttp } from './http.js';

/** An API server stand-in that accepts one token and records the ones it saw. */
async function apiServer(accepted: { token: string }) {
  const seen: string[] = [];
  const server: Server = createServer((req, res) => {
    const token = (req.headers.authorization ?? '').replace(/^Bearer /, '');
    seen.push(token);
    const ok = token === accepted.token;
    res.writeHead(ok ? 200 : 401, { 'content-type': 'application/json' });
    res.end(JSON.stringify(ok ? { kind: 'Deployment' } : { message: 'Unauthorized' }));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { server, seen, port: (server.address() as AddressInfo).port };
}

function config(port: number, token: string): KubeConfig {
  const kc = new KubeConfig();
  kc.loadFromOptions({
    clusters: [{ name: 'c', server: `http://127.0.0.1:${port}`, skipTLSVerify: true }],
    users: [{ name: 'u', token }],
    contexts: [{ name: 'x', cluster: 'c', user: 'u' }],
    currentContext: 'x',
  });
  return kc;
}

describe('kubeHttp credentials', () => {
  let close = (): void => undefined;
  afterEach(() => close());

  it('reuses the token between calls and reads it again after a 401 (a rotated token)', async () => {
    const accepted = { token: 'first' };
    const { server, seen, port } = await apiServer(accepted);
    close = () => server.close();
    const kc = config(port, 'first');
    const http = await kubeHttp(kc);
    try {
      await expect(http.get('/apis/apps/v1/x')).resolves.toMatchObject({ status: 200 });
      // The token rotates: the file (here the kubeconfig) and the server both have the new one.
      kc.users[0] = { ...kc.users[0]!, token: 'second' };
      accepted.token = 'second';
      await expect(http.get('/apis/apps/v1/x')).resolves.toMatchObject({ status: 200 });
      expect(seen).toEqual(['first', 'first', 'second']);
      await http.get('/apis/apps/v1/x');
      expect(seen.at(-1)).toBe('second');
    } finally {
      http.close();
    }
  });

  it('fails with status 401 when even fresh credentials are refused', async () => {
    const { server, port } = await apiServer({ token: 'other' });
    close = () => server.close();
    const http = await kubeHttp(config(port, 'wrong'));
    try {
      await expect(http.get('/apis/apps/v1/x')).rejects.toMatchObject({ status: 401 });
    } finally {
      http.close();
    }
  });
});
