import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { SandboxError } from './process.js';

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

/**
 * Runs `scripts/<name>`, a one-time build from Go modules, and returns the path it prints;
 * when the build cannot run, a `missing_binary` SandboxError saying `missing` (what to do).
 */
export function builtBy(name: string, missing: string): string {
  try {
    return execFileSync('bash', [buildScript(name)], {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'inherit'],
    }).trim();
  } catch (cause) {
    throw new SandboxError('missing_binary', missing, { cause });
  }
}
