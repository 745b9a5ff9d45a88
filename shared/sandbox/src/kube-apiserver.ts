import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { request } from 'node:https';
import { join } from 'node:path';
import { AUDIT_POLICY } from './kube-audit.js';
import { builtBy } from './paths.js';
import { freePort, ManagedProcess, waitUntil, type Log, type ServerOptions } from './process.js';

export type KubeOptions = ServerOptions;

/** Where kube-apiserver and etcd live: KUBEBUILDER_ASSETS, or built once from Go modules. */
export function controlPlaneAssets(env: NodeJS.ProcessEnv = process.env): string {
  const assets = env['KUBEBUILDER_ASSETS'];
  if (assets && existsSync(join(assets, 'kube-apiserver')) && existsSync(join(assets, 'etcd'))) {
    return assets;
  }
  return builtBy(
    'build-control-plane.sh',
    'kube-apiserver/etcd missing: set KUBEBUILDER_ASSETS or install Go for the one-time build',
  );
}

/** GET over HTTPS against the sandbox API server; resolves the status code. */
export function kubeGet(server: string, path: string, token: string, ca: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request(
      new URL(path, server),
      { method: 'GET', headers: { authorization: `Bearer ${token}` }, ca, timeout: 5_000 },
      (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      },
    );
    req.on('error', reject);
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.end();
  });
}

/**
 * A real Kubernetes API server backed by a real etcd, as envtest runs them: TLS with a
 * self-signed serving certificate, a static admin token (system:masters), RBAC authorization
 * and ServiceAccount token signing, so least-privilege checks answer as a cluster would.
 */
export class KubeApiServer {
  readonly server: string;
  readonly adminToken: string;
  readonly kubeconfigPath: string;
  readonly caFile: string;
  /** The API server's own audit log (JSON lines): deployment writes, with their request bodies. */
  readonly auditLogPath: string;
  private readonly etcd: ManagedProcess;
  private apiserver: ManagedProcess;
  private readonly log: Log | undefined;

  constructor(init: {
    server: string;
    adminToken: string;
    kubeconfigPath: string;
    caFile: string;
    auditLogPath: string;
    etcd: ManagedProcess;
    apiserver: ManagedProcess;
    log: Log | undefined;
  }) {
    this.server = init.server;
    this.adminToken = init.adminToken;
    this.kubeconfigPath = init.kubeconfigPath;
    this.caFile = init.caFile;
    this.auditLogPath = init.auditLogPath;
    this.etcd = init.etcd;
    this.apiserver = init.apiserver;
    this.log = init.log;
  }

  static async create(options: KubeOptions): Promise<KubeApiServer> {
    const assets = controlPlaneAssets();
    const etcd = await startEtcd(options, join(assets, 'etcd'));
    try {
      return await startApiServer(options, join(assets, 'kube-apiserver'), etcd);
    } catch (error) {
      await etcd.process.stop();
      throw error;
    }
  }

  get pids(): { etcd: number; apiserver: number } {
    return { etcd: this.etcd.pid, apiserver: this.apiserver.pid };
  }

  /**
   * Stops the API server (SIGTERM: open watches end) and starts it again with the same flags, so
   * on the same port, etcd, certificates and tokens; `downMs` keeps it down that long in between.
   * Resolves once it answers /readyz again.
   */
  async restartApiServer(options: { downMs?: number } = {}): Promise<void> {
    const previous = this.apiserver;
    await previous.stop();
    this.log?.(`stopped kube-apiserver pid ${previous.pid} (restart)`);
    if (options.downMs) await new Promise((resolve) => setTimeout(resolve, options.downMs));
    const proc = ManagedProcess.start(previous.spec);
    this.apiserver = proc;
    await waitApiServerReady(this.server, this.adminToken, this.caFile, proc);
    this.log?.(`restarted kube-apiserver pid ${proc.pid} on ${this.server}`);
  }

  async stop(): Promise<void> {
    await this.apiserver.stop();
    this.log?.(`stopped kube-apiserver pid ${this.apiserver.pid}`);
    await this.etcd.stop();
    this.log?.(`stopped etcd pid ${this.etcd.pid}`);
  }
}

async function startEtcd(
  options: KubeOptions,
  bin: string,
): Promise<{ process: ManagedProcess; url: string }> {
  const [clientPort, peerPort] = [await freePort(), await freePort()];
  const url = `http://127.0.0.1:${clientPort}`;
  const peer = `http://127.0.0.1:${peerPort}`;
  const proc = ManagedProcess.start({
    name: 'etcd',
    command: bin,
    args: [
      `--data-dir=${join(options.dir, 'etcd')}`,
      `--listen-client-urls=${url}`,
      `--advertise-client-urls=${url}`,
      `--listen-peer-urls=${peer}`,
      `--initial-advertise-peer-urls=${peer}`,
      `--initial-cluster=default=${peer}`,
      '--unsafe-no-fsync',
    ],
    logFile: join(options.dir, 'etcd.log'),
    detached: options.detached ?? false,
  });
  await waitUntil('etcd', async () => (await fetch(`${url}/health`)).ok, {
    alive: () => proc.running,
  });
  options.log?.(`started etcd pid ${proc.pid} on ${url}`);
  return { process: proc, url };
}

function writeCredentials(dir: string): {
  adminToken: string;
  tokenFile: string;
  saKey: string;
  saPub: string;
} {
  mkdirSync(dir, { recursive: true });
  const adminToken = randomBytes(24).toString('hex');
  const tokenFile = join(dir, 'tokens.csv');
  writeFileSync(tokenFile, `${adminToken},onpush-admin,onpush-admin,"system:masters"\n`, {
    mode: 0o600,
  });
  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const saKey = join(dir, 'sa.key');
  const saPub = join(dir, 'sa.pub');
  writeFileSync(saKey, privateKey.export({ type: 'pkcs8', format: 'pem' }), { mode: 0o600 });
  writeFileSync(saPub, publicKey.export({ type: 'spki', format: 'pem' }));
  return { adminToken, tokenFile, saKey, saPub };
}

async function startApiServer(
  options: KubeOptions,
  bin: string,
  etcd: { process: ManagedProcess; url: string },
): Promise<KubeApiServer> {
  const pki = join(options.dir, 'pki');
  const creds = writeCredentials(pki);
  const port = await freePort();
  const server = `https://127.0.0.1:${port}`;
  const auditPolicy = join(options.dir, 'audit-policy.json');
  writeFileSync(auditPolicy, `${JSON.stringify(AUDIT_POLICY, null, 2)}\n`);
  const auditLogPath = join(options.dir, 'audit.log');
  const proc = ManagedProcess.start({
    name: 'kube-apiserver',
    command: bin,
    args: [
      `--etcd-servers=${etcd.url}`,
      '--bind-address=127.0.0.1',
      '--advertise-address=127.0.0.1',
      `--secure-port=${port}`,
      `--cert-dir=${pki}`,
      `--token-auth-file=${creds.tokenFile}`,
      '--authorization-mode=RBAC',
      '--service-cluster-ip-range=10.96.0.0/24',
      '--service-account-issuer=https://kubernetes.default.svc.cluster.local',
      `--service-account-key-file=${creds.saPub}`,
      `--service-account-signing-key-file=${creds.saKey}`,
      '--disable-admission-plugins=ServiceAccount',
      '--allow-privileged=true',
      `--audit-policy-file=${auditPolicy}`,
      `--audit-log-path=${auditLogPath}`,
    ],
    logFile: join(options.dir, 'kube-apiserver.log'),
    detached: options.detached ?? false,
  });
  const caFile = join(pki, 'apiserver.crt');
  await waitApiServerReady(server, creds.adminToken, caFile, proc);
  options.log?.(`started kube-apiserver pid ${proc.pid} on ${server} (RBAC on)`);
  const kubeconfigPath = join(options.dir, 'kubeconfig');
  writeFileSync(kubeconfigPath, kubeconfig(server, caFile, creds.adminToken), { mode: 0o600 });
  return new KubeApiServer({
    server,
    adminToken: creds.adminToken,
    kubeconfigPath,
    caFile,
    auditLogPath,
    etcd: etcd.process,
    apiserver: proc,
    log: options.log,
  });
}

function waitApiServerReady(
  server: string,
  token: string,
  caFile: string,
  proc: ManagedProcess,
): Promise<void> {
  return waitUntil(
    'kube-apiserver',
    async () =>
      existsSync(caFile) &&
      (await kubeGet(server, '/readyz', token, readFileSync(caFile, 'utf8'))) === 200,
    { alive: () => proc.running, timeoutMs: 120_000, intervalMs: 250 },
  );
}

/** A kubeconfig (JSON is valid YAML) for the sandbox admin. */
export function kubeconfig(server: string, caFile: string, token: string): string {
  const config = {
    apiVersion: 'v1',
    kind: 'Config',
    clusters: [{ name: 'onpush-sandbox', cluster: { server, 'certificate-authority': caFile } }],
    users: [{ name: 'onpush-admin', user: { token } }],
    contexts: [
      { name: 'onpush-sandbox', context: { cluster: 'onpush-sandbox', user: 'onpush-admin' } },
    ],
    'current-context': 'onpush-sandbox',
    preferences: {},
  };
  return `${JSON.stringify(config, null, 2)}\n`;
}
