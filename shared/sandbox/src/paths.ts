import { existsSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The per-user cache for binaries built once (control plane, pstest). */
export function cacheDir(env: NodeJS.ProcessEnv = process.env): string {
  return (
    env['ONPUSH_CACHE_DIR'] ?? join(env['XDG_CACHE_HOME'] ?? join(homedir(), '.cache'), 'onpush')
  );
}

/** The repository's scripts/ folder, found from this file (src/ or dist/). */
export function buildScript(name: string): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 6; i += 1) {
    const candidate = join(dir, 'scripts', name);
    if (existsSync(candidate)) return candidate;
    dir = resolve(dir, '..');
  }
  throw new Error(`scripts/${name} not found above ${fileURLToPath(import.meta.url)}`);
}
