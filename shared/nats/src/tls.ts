// TLS for the bus: a small CA and nats-server's certificate, made with @peculiar/x509 on Node's
// WebCrypto (ECDSA P-256). Clients verify the server with `ca.pem` from NATS_CREDENTIALS_DIR.
// Production may bring its own (cert-manager): onpush only needs the CA bundle as `ca.pem`.
import { webcrypto } from 'node:crypto';
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type * as X509 from '@peculiar/x509';
import { CA_FILE } from './connect.js';

export const SERVER_CERT_FILE = 'server.pem';
export const SERVER_KEY_FILE = 'server-key.pem';
const CA_KEY_FILE = 'ca-key.pem';

const ALGORITHM = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' } as const;
const DAY = 24 * 60 * 60 * 1000;

/**
 * The names the server certificate holds: loopback (sandbox, compose's host port) and the
 * Service names the k8s base uses (`nats`, `nats-0.nats-headless`, ... in any namespace).
 */
export const DEFAULT_SERVER_NAMES: readonly string[] = [
  'localhost',
  '127.0.0.1',
  '::1',
  'nats',
  'nats.onpush.svc',
  'nats.onpush.svc.cluster.local',
  '*.nats-headless',
  '*.nats-headless.onpush.svc',
  '*.nats-headless.onpush.svc.cluster.local',
];

const isIp = (name: string): boolean => /^[\d.]+$/.test(name) || name.includes(':');

/**
 * The X.509 library, loaded only where certificates are made (the CLI, the sandbox): it needs
 * the reflect-metadata polyfill, which services have no reason to carry.
 */
async function loadX509(): Promise<typeof X509> {
  await import('reflect-metadata');
  const x509 = await import('@peculiar/x509');
  x509.cryptoProvider.set(webcrypto as unknown as Parameters<typeof x509.cryptoProvider.set>[0]);
  return x509;
}

/**
 * Adds a CA and a server certificate for `names` to a credentials directory, unless it already
 * has them (twice changes nothing; delete server.pem to re-issue it). The server reads
 * server.pem and server-key.pem; clients need only ca.pem.
 */
export async function ensureTls(
  dir: string,
  names: readonly string[] = DEFAULT_SERVER_NAMES,
): Promise<boolean> {
  if (existsSync(join(dir, CA_FILE)) && existsSync(join(dir, SERVER_CERT_FILE))) return false;
  const x509 = await loadX509();
  const pkcs8Pem = async (key: webcrypto.CryptoKey): Promise<string> =>
    x509.PemConverter.encode(await webcrypto.subtle.exportKey('pkcs8', key), 'PRIVATE KEY');
  const now = Date.now();
  const caKeys = await webcrypto.subtle.generateKey(ALGORITHM, true, ['sign', 'verify']);
  const ca = await x509.X509CertificateGenerator.createSelfSigned({
    name: 'CN=onpush NATS CA',
    keys: caKeys,
    notBefore: new Date(now - DAY),
    notAfter: new Date(now + 5 * 365 * DAY),
    signingAlgorithm: ALGORITHM,
    extensions: [
      new x509.BasicConstraintsExtension(true, 0, true),
      new x509.KeyUsagesExtension(
        x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign,
        true,
      ),
      await x509.SubjectKeyIdentifierExtension.create(caKeys.publicKey),
    ],
  });
  const serverKeys = await webcrypto.subtle.generateKey(ALGORITHM, true, ['sign', 'verify']);
  const server = await x509.X509CertificateGenerator.create({
    subject: 'CN=nats',
    issuer: ca.subject,
    publicKey: serverKeys.publicKey,
    signingKey: caKeys.privateKey,
    notBefore: new Date(now - DAY),
    notAfter: new Date(now + 365 * DAY),
    signingAlgorithm: ALGORITHM,
    extensions: [
      new x509.BasicConstraintsExtension(false, undefined, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
      new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth]),
      new x509.SubjectAlternativeNameExtension(
        names.map((value) => ({ type: isIp(value) ? 'ip' : 'dns', value })),
      ),
      await x509.AuthorityKeyIdentifierExtension.create(caKeys.publicKey),
    ],
  });
  const write = (file: string, text: string, mode = 0o644): void =>
    writeFileSync(join(dir, file), `${text.trim()}\n`, { mode });
  write(CA_KEY_FILE, await pkcs8Pem(caKeys.privateKey), 0o600);
  write(SERVER_KEY_FILE, await pkcs8Pem(serverKeys.privateKey), 0o600);
  write(SERVER_CERT_FILE, server.toString('pem'));
  write(CA_FILE, ca.toString('pem'));
  return true;
}
