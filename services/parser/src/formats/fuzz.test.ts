// Property: whatever bytes and headers arrive, the handler returns messages that keep their
// contracts, or throws a permanent error that says its type — never a TypeError or RangeError.
import { describe, expect, it } from 'vitest';
import {
  ContractError,
  PUSHED,
  parseDeadLetter,
  parseImagePushed,
  parseOutcome,
} from '@onpush/contracts';
import { ParseError } from '../errors.js';
import { FORMATS } from './index.js';
import { D1, fixture, handle, raw, type RawOptions } from './harness.test-support.js';

const RUNS = 2_000;

/** mulberry32: a small seeded PRNG, so a failure replays. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}

type Rand = () => number;
const pick = <T>(rand: Rand, list: readonly T[]): T => list[Math.floor(rand() * list.length)]!;

const CE = (type: string, data: unknown) =>
  JSON.stringify({ specversion: '1.0', id: 'i', type, data });
const SEEDS: Record<string, string[]> = {
  gar: [
    fixture('gar-insert-tag.json'),
    fixture('gar-delete.json'),
    fixture('pubsub-push-envelope-generic.json'),
  ],
  dockerhub: [fixture('dockerhub-push.json')],
  distribution: [fixture('distribution-push-batch.json')],
  harbor: [
    fixture('harbor-default-push.json'),
    CE('harbor.artifact.pushed', { resources: [{ tag: 'v1', resource_url: 'h.io/a/b:v1' }] }),
  ],
  github: [fixture('ghcr-package-published.json')],
  quay: [
    fixture('quay-push.json'),
    JSON.stringify({ docker_url: 'quay.io/a/b', updated_tags: { v1: 'x' } }),
  ],
  acr: [fixture('acr-webhook-push.json')],
  eventgrid: [
    fixture('acr-eventgrid-imagepushed.json'),
    CE('Microsoft.ContainerRegistry.ImagePushed', {
      target: { repository: 'a', tag: '1' },
      request: { host: 'a.azurecr.io' },
    }),
  ],
  ecr: [
    fixture('ecr-eventbridge-push.json'),
    JSON.stringify({ Type: 'Notification', Message: fixture('ecr-eventbridge-push.json') }),
  ],
  jfrog: [fixture('jfrog-docker-tag-pushed.json')],
  cloudevents: [
    CE('x.pushed', { image: `reg.io/a:1@${D1}` }),
    JSON.stringify([JSON.parse(CE('x.pushed', { repository: 'a', tag: '1', host: 'r.io' }))]),
  ],
};
SEEDS['gcr'] = SEEDS['gar']!;

const WEIRD: readonly unknown[] = [
  null,
  true,
  0,
  -1,
  1e308,
  '',
  ' ',
  'x',
  'INSERT',
  'push',
  'PUSH',
  'pushed',
  'docker',
  'ping',
  'harbor.artifact.pushed',
  'Microsoft.ContainerRegistry.ImagePushed',
  'ECR Image Action',
  'SUCCESS',
  'Notification',
  'sha256:xxxx',
  D1,
  'a//b',
  'UPPER/Case',
  'localhost:5000/a:b',
  'https://x/y',
  '__proto__',
  'constructor',
  '\u0000',
  '💥'.repeat(50),
  'a'.repeat(5_000),
  [],
  {},
  [[[]]],
  { __proto__: { polluted: 1 } },
  ['v1', 2, null],
  { image: 'r.io/a:1' },
];

function randomValue(rand: Rand): unknown {
  const r = rand();
  if (r < 0.7) return structuredClone(pick(rand, WEIRD));
  if (r < 0.85) return Math.floor(rand() * 1e6);
  return String.fromCharCode(
    ...Array.from({ length: 1 + Math.floor(rand() * 20) }, () => 32 + Math.floor(rand() * 200)),
  );
}

/** Every container (object or array) in a parsed body, to mutate one of them. */
function containers(
  value: unknown,
  found: (Record<string, unknown> | unknown[])[] = [],
  depth = 0,
): typeof found {
  if (typeof value !== 'object' || value === null || depth > 12 || found.length > 500) return found;
  found.push(value as Record<string, unknown>);
  for (const child of Object.values(value)) containers(child, found, depth + 1);
  return found;
}

function mutateTree(rand: Rand, seed: string): string {
  const tree = JSON.parse(seed) as unknown;
  for (let n = 1 + Math.floor(rand() * 3); n > 0; n--) {
    const all = containers(tree);
    // The top levels hold the fields formats decide on (action, type, tag): hit them more often.
    const target =
      rand() < 0.4 ? all[Math.floor(rand() * Math.min(all.length, 3))] : pick(rand, all);
    if (target === undefined) break;
    const keys = Object.keys(target);
    const key =
      keys.length > 0 && rand() < 0.8
        ? pick(rand, keys)
        : pick(rand, ['x', '0', 'data', 'tag', 'id']);
    if (rand() < 0.2) Reflect.deleteProperty(target, key);
    else (target as Record<string, unknown>)[key] = randomValue(rand);
  }
  return JSON.stringify(tree);
}

function mutateBytes(rand: Rand, seed: string): Uint8Array {
  const bytes = new TextEncoder().encode(seed);
  const r = rand();
  if (r < 0.4) return bytes.slice(0, Math.floor(rand() * bytes.length));
  const copy = bytes.slice();
  for (let n = 1 + Math.floor(rand() * 4); n > 0; n--) {
    copy[Math.floor(rand() * copy.length)] = r < 0.8 ? Math.floor(rand() * 256) : 0xc3;
  }
  return copy;
}

function structural(rand: Rand, seed: string): string {
  const r = rand();
  const depth = 1_000 + Math.floor(rand() * 20_000);
  if (r < 0.3) return `${'['.repeat(depth)}${seed}${']'.repeat(depth)}`;
  if (r < 0.6)
    return seed.replace(
      /"(tag|data|target|events|resources|updated_tags|message)":/,
      `"$1":${'{"a":'.repeat(depth)}1${'}'.repeat(depth)},"z$1":`,
    );
  if (r < 0.8) {
    const item = seed.length <= 2_000 ? seed : '{}';
    return `[${Array.from({ length: 1_001 + Math.floor(rand() * 50) }, () => item).join(',')}]`;
  }
  return JSON.stringify({
    events: Array.from({ length: 1_001 }, () => ({ action: 'push', target: { tag: 'v' } })),
  });
}

function mutate(rand: Rand, seed: string): string | Uint8Array {
  const r = rand();
  if (r < 0.55) return mutateTree(rand, seed);
  if (r < 0.85) return mutateBytes(rand, seed);
  if (r < 0.9) return structural(rand, seed);
  return seed;
}

function options(rand: Rand): RawOptions {
  const transport: Record<string, string> = {};
  if (rand() < 0.3)
    transport['x-github-event'] = pick(rand, [
      'package',
      'registry_package',
      'ping',
      'push',
      '__proto__',
    ]);
  if (rand() < 0.2)
    transport['ce-type'] = pick(rand, [
      'x.pushed',
      'harbor.artifact.pushed',
      'Microsoft.ContainerRegistry.ImagePushed',
      '',
    ]);
  if (rand() < 0.2)
    transport['content-type'] = pick(rand, [
      'application/json',
      'text/plain',
      'application/cloudevents-batch+json',
    ]);
  if (rand() < 0.1)
    transport['publish-time'] = pick(rand, [
      '2026-11-26T09:00:00Z',
      'yesterday',
      '+275760-09-13T00:00:00.000Z',
    ]);
  const host =
    rand() < 0.5
      ? pick(rand, ['art.example.com', 'a.io/{repo_key}', '{repo_key}.a.io', 'bad host', 'x', ''])
      : undefined;
  return { transport, ...(host !== undefined ? { registryHost: host } : {}) };
}

function checkOutput(out: Awaited<ReturnType<typeof handle>>): void {
  for (const message of out) {
    if (message.subject === PUSHED) parseImagePushed(message.data);
    else if (message.subject.startsWith('onpush.outcome.')) parseOutcome(message.data);
    else if (message.subject === 'onpush.dead.parser') parseDeadLetter(message.data);
    else throw new Error(`unexpected subject ${message.subject}`);
  }
}

describe('parser: random and mutated bodies', () => {
  it.each(Object.keys(FORMATS))(
    '%s: only messages that keep their contracts, or a typed permanent error',
    async (source) => {
      const rand = prng([...source].reduce((h, c) => h * 31 + c.charCodeAt(0), 7));
      const seeds = SEEDS[source]!;
      const seen = { ok: 0, failed: 0 };
      for (let i = 0; i < RUNS; i++) {
        const body = mutate(rand, pick(rand, seeds));
        let out: Awaited<ReturnType<typeof handle>>;
        try {
          out = await handle(raw(source, body, options(rand)));
        } catch (error) {
          const typed = error instanceof ParseError || error instanceof ContractError;
          if (!typed) throw new Error(`run ${i}: ${String(error)}`, { cause: error });
          expect(error).toMatchObject({ retryable: false });
          expect(typeof (error as ParseError).type).toBe('string');
          seen.failed++;
          continue;
        }
        checkOutput(out);
        seen.ok++;
      }
      expect(seen.ok).toBeGreaterThan(0);
      expect(seen.failed).toBeGreaterThan(0);
    },
    60_000,
  );
});
