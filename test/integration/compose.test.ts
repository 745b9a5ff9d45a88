import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { beforeAll, describe, expect, it } from 'vitest';
import { loadYaml } from '@kubernetes/client-node';
import { FORMATS } from '@onpush/parser';
import { ensureCredentials, ensureTls } from '@onpush/nats';
import { cacheDir, findNatsServer } from '@onpush/sandbox';
import { eventually, useSandbox } from '@onpush/testing';

const run = promisify(execFile);
const ROOT = resolve(import.meta.dirname, '..', '..');
const SERVICES = ['ingest', 'parser', 'resolver', 'restarter', 'dlq-manager'] as const;
const INSTALL = 'run scripts/install-deploy-tools.sh (npm test runs it)';

function onPath(name: string): string | undefined {
  return (process.env['PATH'] ?? '')
    .split(delimiter)
    .map((dir) => join(dir, name))
    .find((file) => existsSync(file));
}

function tool(name: string, where: string | undefined): string {
  if (where && existsSync(where)) return where;
  throw new Error(`${name} not found: ${INSTALL}`);
}

interface Instruction {
  line: number;
  keyword: string;
  args: string;
}

/** The Dockerfile's instructions, continuation lines joined, comments dropped. */
function instructions(text: string): Instruction[] {
  const out: Instruction[] = [];
  let pending: Instruction | undefined;
  text.split('\n').forEach((raw, index) => {
    const line = raw.trim();
    if (!pending && (line === '' || line.startsWith('#'))) return;
    const continued = line.endsWith('\\');
    const body = continued ? line.slice(0, -1) : line;
    if (pending) pending.args += ` ${body}`;
    else {
      const [keyword = '', ...rest] = body.split(/\s+/);
      pending = { line: index + 1, keyword: keyword.toUpperCase(), args: rest.join(' ') };
    }
    if (!continued) {
      out.push(pending);
      pending = undefined;
    }
  });
  return out;
}

interface ComposeService {
  image?: string;
  command?: string[];
  environment?: Record<string, string>;
  depends_on?: Record<string, { condition: string }>;
  healthcheck?: { test: string[] };
  restart?: string;
  read_only?: boolean;
  volumes?: string[];
  profiles?: string[];
  ports?: string[];
}
interface ComposeConfig {
  services: Record<string, ComposeService>;
  volumes?: Record<string, unknown>;
}

// Given the repository's Dockerfile: no Docker engine is needed to judge it.
describe('container image (Dockerfile)', () => {
  const dockerfile = readFileSync(join(ROOT, 'Dockerfile'), 'utf8');
  const steps = instructions(dockerfile);

  it('passes dockerfile-utils lint without a problem', async () => {
    const lint = tool('dockerfile-utils', join(cacheDir(), 'tools', 'bin', 'dockerfile-utils'));
    const { stdout } = await run(lint, ['lint', '--json', join(ROOT, 'Dockerfile')]);
    expect(JSON.parse(stdout)).toEqual([]);
  });

  it('builds in its own stage and ships production dependencies only, run as a non-root user', () => {
    const args = Object.fromEntries(
      steps
        .filter((s) => s.keyword === 'ARG' && s.args.includes('='))
        .map((s) => s.args.split('=') as [string, string]),
    );
    const froms = steps.filter((s) => s.keyword === 'FROM');
    expect(froms.length).toBeGreaterThanOrEqual(2);
    for (const from of froms) {
      const image = (from.args.split(/\s+/)[0] ?? '').replace(
        /\$\{?(\w+)\}?/,
        (_, name: string) => args[name] ?? '',
      );
      expect(image, `FROM on line ${from.line}`).toMatch(
        /^[\w./-]+:(?!latest$)[\w.-]+(@sha256:\w+)?$/,
      );
    }
    const runtime = steps.slice(steps.lastIndexOf(froms[froms.length - 1]!));
    const build = steps.slice(0, steps.lastIndexOf(froms[froms.length - 1]!));
    expect(build.some((s) => s.keyword === 'RUN' && /npm ci .*--omit=dev/.test(s.args))).toBe(true);
    // the test harness and the bench are built with the rest, then left out of what is shipped
    expect(
      build.some((s) => s.keyword === 'RUN' && /rm -rf shared\/testing bench /.test(s.args)),
    ).toBe(true);
    expect(
      runtime.filter(
        (s) => s.keyword === 'RUN' && /\bnpm\b/.test(s.args) && !/rm -rf/.test(s.args),
      ),
    ).toEqual([]);
    expect(
      runtime.filter((s) => s.keyword === 'COPY').every((s) => s.args.startsWith('--from=')),
    ).toBe(true);
    const user = runtime.filter((s) => s.keyword === 'USER').at(-1)?.args ?? 'root';
    expect(user).toMatch(/^[1-9]\d*(:\d+)?$/);
    expect(runtime.find((s) => s.keyword === 'ENTRYPOINT')?.args).toBe(
      '["node", "cli/dist/main.js"]',
    );
    expect(runtime.find((s) => s.keyword === 'HEALTHCHECK')?.args).toContain('/readyz');
  });

  it('sizes the V8 heap from the memory limit, with a flag the shipped Node accepts', async () => {
    const env = steps
      .filter((s) => s.keyword === 'ENV')
      .map((s) => s.args)
      .join(' ');
    const percent = Number(/NODE_OPTIONS=--max-old-space-size-percentage=(\d+)/.exec(env)?.[1]);
    expect(percent).toBeGreaterThanOrEqual(40);
    expect(percent).toBeLessThanOrEqual(75);
    const { stdout } = await run(
      process.execPath,
      [
        '-e',
        'const v8=require("node:v8"),os=require("node:os");' +
          'const c=process.constrainedMemory(),t=os.totalmem(),mem=c>0&&c<t?c:t;' +
          'console.log(v8.getHeapStatistics().heap_size_limit/mem)',
      ],
      { env: { ...process.env, NODE_OPTIONS: `--max-old-space-size-percentage=${percent}` } },
    );
    // the heap limit (old space plus the young generation) is about that share of the memory
    expect(Number(stdout)).toBeGreaterThan(percent / 100 - 0.02);
    expect(Number(stdout)).toBeLessThan(percent / 100 + 0.05);
  });

  it('sends no local state to the build (.dockerignore)', () => {
    const ignored = readFileSync(join(ROOT, '.dockerignore'), 'utf8').split('\n');
    for (const entry of ['**/node_modules', '**/dist', '.git', '.onpush'])
      expect(ignored).toContain(entry);
  });
});

// Given docker-compose.yml and Debian's docker-compose, which validates without an engine.
describe('docker-compose.yml', () => {
  const sandbox = useSandbox(['pubsub'], 'compose');
  let config: ComposeConfig;

  beforeAll(async () => {
    const compose = tool('docker-compose', onPath('docker-compose'));
    const env = {
      PATH: process.env['PATH'] ?? '',
      HOME: process.env['HOME'] ?? '/root',
      ONPUSH_KUBECONFIG: '/dev/null',
    };
    await run(compose, ['config', '-q'], { cwd: ROOT, env });
    const { stdout } = await run(compose, ['config'], { cwd: ROOT, env });
    config = loadYaml<ComposeConfig>(stdout);
  });

  it('runs NATS on a named volume, the Pub/Sub emulator, Jaeger and the five services', () => {
    expect(Object.keys(config.services)).toEqual(
      expect.arrayContaining(['nats', 'pubsub', 'jaeger', ...SERVICES]),
    );
    expect(config.volumes).toHaveProperty('nats-data');
    expect(config.services['nats']?.volumes).toContainEqual(
      expect.stringMatching(/^nats-data:\/data/),
    );
  });

  it('health-checks, orders and restarts every service, and sends its traces to Jaeger', () => {
    for (const name of SERVICES) {
      const service = config.services[name];
      expect(service?.command, name).toEqual(['run', name]);
      expect(service?.healthcheck?.test.join(' '), name).toContain('/readyz');
      expect(service?.depends_on?.['nats'], name).toEqual({ condition: 'service_healthy' });
      expect(service?.restart, name).toBe('unless-stopped');
      expect(service?.read_only, name).toBe(true);
      expect(service?.environment, name).toMatchObject({
        OTEL_EXPORTER_OTLP_ENDPOINT: 'http://jaeger:4318',
        OTEL_SERVICE_NAME: `onpush-${name}`,
      });
    }
    expect(config.services['ingest']?.depends_on?.['pubsub']).toEqual({
      condition: 'service_healthy',
    });
  });

  it('publishes every port on 127.0.0.1 only, and wants a kubeconfig named for onpush', async () => {
    const published = Object.entries(config.services).flatMap(([name, service]) =>
      (service.ports ?? []).map((port) => `${name} ${port}`),
    );
    expect(published.length).toBeGreaterThan(0);
    for (const port of published) expect(port).toMatch(/^\S+ 127\.0\.0\.1:/);
    // Without ONPUSH_KUBECONFIG compose refuses to start rather than mount ~/.kube/config.
    const compose = tool('docker-compose', onPath('docker-compose'));
    const env = { PATH: process.env['PATH'] ?? '', HOME: process.env['HOME'] ?? '/root' };
    await expect(run(compose, ['config', '-q'], { cwd: ROOT, env })).rejects.toThrow(
      /ONPUSH_KUBECONFIG/,
    );
  });

  it('signs every service in to NATS with the identities the credentials service makes', async () => {
    for (const name of [...SERVICES, 'provision']) {
      const service = config.services[name];
      expect(service?.environment?.['NATS_CREDENTIALS_DIR'], name).toBe('/credentials');
      expect(service?.volumes, name).toContainEqual(
        expect.stringMatching(/^nats-credentials:\/credentials:ro/),
      );
    }
    expect(config.services['credentials']?.command).toEqual([
      'credentials',
      '--dir',
      '/credentials',
    ]);
    expect(config.services['nats']?.depends_on?.['credentials']).toEqual({
      condition: 'service_completed_successfully',
    });
    // nats-server accepts compose/nats.conf with what `onpush credentials` writes.
    const dir = mkdtempSync(join(tmpdir(), 'onpush-compose-nats-'));
    try {
      ensureCredentials(join(dir, 'credentials'));
      await ensureTls(join(dir, 'credentials'));
      const text = readFileSync(join(ROOT, 'compose', 'nats.conf'), 'utf8').replaceAll(
        '/etc/nats/',
        `${dir}/`,
      );
      writeFileSync(join(dir, 'nats.conf'), text.replaceAll('/data', join(dir, 'data')));
      const { stdout, stderr } = await run(findNatsServer(), ['-c', join(dir, 'nats.conf'), '-t']);
      expect(stdout + stderr).toContain('is valid');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('sends a test push the parser reads as an Artifact Registry push (`run --rm push`)', async () => {
    const push = config.services['push'];
    expect(push?.profiles).toEqual(['tools']);
    const [shell, flag] = (push as { entrypoint?: string[] }).entrypoint ?? [];
    // What the container runs: compose turns `$$` into `$`.
    const script = (push?.command?.[0] ?? '').replaceAll('$$', '$');
    const emulator = sandbox().need('pubsub').host;
    const project = sandbox().pubsubProject;
    const api = `http://${emulator}/v1/projects/${project}`;
    const rest = async (method: string, path: string, body: unknown): Promise<unknown> => {
      const res = await fetch(`${api}/${path}`, {
        method,
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(body),
      });
      if (!res.ok) throw new Error(`${method} ${path}: ${res.status} ${await res.text()}`);
      return res.json();
    };
    // As ingest does at start (PUBSUB_CREATE_SUBSCRIPTION): the topic and its subscription.
    await rest('PUT', 'topics/gcr', {});
    await rest('PUT', 'subscriptions/onpush-gcr', { topic: `projects/${project}/topics/gcr` });

    await run(shell ?? 'sh', [flag ?? '-c', script], {
      env: {
        PATH: process.env['PATH'] ?? '',
        PUSH_IMAGE: push?.environment?.['PUSH_IMAGE'] ?? '',
        PUBSUB_EMULATOR_HOST: emulator,
        PUBSUB_PROJECT: project,
      },
    });

    const pulled = await eventually('the push on subscription onpush-gcr', async () => {
      const answer = (await rest('POST', 'subscriptions/onpush-gcr:pull', {
        maxMessages: 1,
      })) as { receivedMessages?: { message: { data: string } }[] };
      return answer.receivedMessages?.[0]?.message;
    });
    const result = FORMATS['gar']?.({ data: Buffer.from(pulled.data, 'base64'), transport: {} });
    expect(result).toMatchObject({
      kind: 'pushes',
      pushes: [{ ref: { reference: 'us-docker.pkg.dev/onpush-demo/apps/web:1.0' } }],
    });
  });
});
