// Seeded generators of hostile webhook bodies: random bytes, random JSON, and the registries'
// real payloads with random mutations (fields replaced, removed, retyped; text truncated, bytes
// flipped). The same seed gives the same bodies.

export type Rng = () => number;

/** mulberry32: a small, fast, seeded PRNG. */
export function seeded(seed: number): Rng {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}

export const int = (rng: Rng, n: number): number => Math.floor(rng() * n);
export const pick = <T>(rng: Rng, list: readonly T[]): T => list[int(rng, list.length)] as T;

const STRINGS = [
  '',
  ' ',
  'latest',
  'push',
  'PUSH',
  'INSERT',
  'delete',
  'published',
  'sha256:',
  `sha256:${'a'.repeat(64)}`,
  `sha256:${'A'.repeat(64)}`,
  'sha256:6ec128e26cd5...',
  'Team/App',
  'https://evil.example.com/app:1',
  'localhost:5000/a/b:c',
  'docker.io/library/nginx:1.27',
  'ghcr.io/Acme/App:v1',
  '../../etc/passwd',
  '\u0000',
  '\u202e💥',
  'null',
  '@',
  ':',
  '{"nested":"json"}',
  'a'.repeat(300),
  'x/'.repeat(200),
];

function randomString(rng: Rng): string {
  if (rng() < 0.6) return pick(rng, STRINGS);
  const length = int(rng, 40);
  let s = '';
  for (let i = 0; i < length; i += 1)
    s += String.fromCharCode(rng() < 0.9 ? 32 + int(rng, 95) : int(rng, 0xffff));
  return s;
}

export function randomValue(rng: Rng, depth = 0): unknown {
  const r = rng();
  if (depth > 3 || r < 0.3) return randomString(rng);
  if (r < 0.4) return int(rng, 2) ? int(rng, 1e6) - 5e5 : rng() * 1e20;
  if (r < 0.5) return pick(rng, [true, false, null]);
  if (r < 0.75) return Array.from({ length: int(rng, 4) }, () => randomValue(rng, depth + 1));
  const out: Record<string, unknown> = {};
  for (let i = int(rng, 5); i > 0; i -= 1) out[randomString(rng)] = randomValue(rng, depth + 1);
  return out;
}

type Container = Record<string, unknown> | unknown[];
const isContainer = (v: unknown): v is Container => typeof v === 'object' && v !== null;

/** A random container inside `value` (or the value itself). */
function somewhere(rng: Rng, value: Container): Container {
  let here = value;
  for (let depth = 0; depth < 6 && rng() < 0.7; depth += 1) {
    const children = Object.values(here).filter(isContainer);
    if (children.length === 0) break;
    here = pick(rng, children);
  }
  return here;
}

/** One mutation in place: a field replaced, removed, retyped or added. */
function mutateOnce(rng: Rng, value: Container): void {
  const here = somewhere(rng, value);
  const keys = Object.keys(here);
  const key = keys.length > 0 && rng() < 0.85 ? pick(rng, keys) : randomString(rng);
  const target = here as Record<string, unknown>;
  const r = rng();
  if (r < 0.25 && !Array.isArray(here)) delete target[key];
  else if (r < 0.5) target[key] = randomString(rng);
  else if (r < 0.7) target[key] = randomValue(rng);
  else if (r < 0.8) target[key] = [target[key], target[key]];
  else target[key] = pick(rng, [null, 0, -1, true, {}, [], '']);
}

function corruptText(rng: Rng, text: string): Buffer {
  const bytes = Buffer.from(text);
  const r = rng();
  if (r < 0.4) return bytes.subarray(0, int(rng, bytes.length + 1));
  for (let i = int(rng, 8) + 1; i > 0; i -= 1) bytes[int(rng, bytes.length)] = int(rng, 256);
  return bytes;
}

const deep = (rng: Rng): string => {
  const depth = 1_000 + int(rng, 4_000);
  return '['.repeat(depth) + ']'.repeat(depth);
};

/** One fuzzed body, built from the real payloads of the endpoint (`bases`). */
export function fuzzBody(rng: Rng, bases: readonly string[]): Buffer {
  const base = pick(rng, bases);
  const r = rng();
  if (r < 0.1) return Buffer.from(Array.from({ length: int(rng, 600) }, () => int(rng, 256)));
  if (r < 0.2) return Buffer.from(JSON.stringify(randomValue(rng)));
  if (r < 0.25) return corruptText(rng, base);
  if (r < 0.26) return Buffer.from(deep(rng));
  if (r < 0.33) return Buffer.from(base);
  const value = JSON.parse(base) as unknown;
  if (!isContainer(value)) return Buffer.from(base);
  for (let i = int(rng, 4) + 1; i > 0; i -= 1) mutateOnce(rng, value);
  return Buffer.from(JSON.stringify(value));
}
