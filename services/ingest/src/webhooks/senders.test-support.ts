// What senders do, for the unit tests: sign a JWT as Google does, sign SNS messages, serve
// keys and certificates on loopback. Not exported from the package.
import { createPrivateKey, generateKeyPairSync, sign, type KeyObject } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import { snsStringToSign, type SnsMessage } from './sns.js';

const b64 = (value: unknown): string => Buffer.from(JSON.stringify(value)).toString('base64url');

export interface Signer {
  kid: string;
  privateKey: KeyObject;
  jwks: { keys: unknown[] };
}

export function rsaSigner(kid = 'key-1'): Signer {
  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const jwk = { ...publicKey.export({ format: 'jwk' }), kid, alg: 'RS256', use: 'sig' };
  return { kid, privateKey, jwks: { keys: [jwk] } };
}

export function signJwt(
  signer: Signer,
  claims: Record<string, unknown>,
  header: Record<string, unknown> = {},
): string {
  const input = `${b64({ alg: 'RS256', typ: 'JWT', kid: signer.kid, ...header })}.${b64(claims)}`;
  return `${input}.${sign('RSA-SHA256', Buffer.from(input), signer.privateKey).toString('base64url')}`;
}

/** The PEM file with a self-signed test certificate and its key (test only). */
export const SNS_TEST_PEM = fileURLToPath(
  new URL('../../testdata/sns-test-signing.pem', import.meta.url),
);

export function snsSign(
  message: Omit<SnsMessage, 'Signature' | 'SignatureVersion'>,
  version: '1' | '2' = '2',
): SnsMessage {
  const key = createPrivateKey(readFileSync(SNS_TEST_PEM));
  const unsigned = { ...message, SignatureVersion: version, Signature: '' } as SnsMessage;
  const algorithm = version === '1' ? 'RSA-SHA1' : 'RSA-SHA256';
  const signature = sign(algorithm, Buffer.from(snsStringToSign(unsigned)), key);
  return { ...unsigned, Signature: signature.toString('base64') };
}

/** A loopback HTTP server answering `routes[path]` (status 200) and counting GETs by path. */
export async function serve(
  routes: Record<string, string>,
): Promise<{ url: string; hits: Map<string, number>; close: () => Promise<void> }> {
  const hits = new Map<string, number>();
  const server: Server = createServer((req, res) => {
    const path = req.url ?? '/';
    hits.set(path, (hits.get(path) ?? 0) + 1);
    const body = routes[path];
    res.writeHead(body === undefined ? 404 : 200, { 'cache-control': 'max-age=3600' });
    res.end(body ?? 'not found');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return { url, hits, close: () => new Promise((resolve) => server.close(() => resolve())) };
}
