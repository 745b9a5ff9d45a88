import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { NATS_SERVER_VERSION, cachedNatsServer, findNatsServer } from './nats-server.js';

describe('findNatsServer', () => {
  const dirs: string[] = [];
  afterEach(() => {
    for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
  });

  /** An executable that answers `--version`, as nats-server does. */
  function fakeServer(file: string): string {
    mkdirSync(dirname(file), { recursive: true });
    writeFileSync(file, '#!/bin/sh\necho "nats-server: v0.0.0"\n');
    chmodSync(file, 0o755);
    return file;
  }

  function tempDir(): string {
    const dir = mkdtempSync(join(tmpdir(), 'onpush-find-nats-'));
    dirs.push(dir);
    return dir;
  }

  it('keeps the pinned build under ONPUSH_CACHE_DIR, else XDG_CACHE_HOME/onpush', () => {
    expect(cachedNatsServer({ ONPUSH_CACHE_DIR: '/c', XDG_CACHE_HOME: '/x' })).toBe(
      `/c/nats-server/${NATS_SERVER_VERSION}/nats-server`,
    );
    expect(cachedNatsServer({ XDG_CACHE_HOME: '/x' })).toBe(
      `/x/onpush/nats-server/${NATS_SERVER_VERSION}/nats-server`,
    );
  });

  it('takes NATS_SERVER_BIN first, then the cached build, before PATH', () => {
    const dir = tempDir();
    const onPath = fakeServer(join(dir, 'bin', 'nats-server'));
    const env = { ONPUSH_CACHE_DIR: join(dir, 'cache'), PATH: dirname(onPath) };
    expect(findNatsServer(env)).toBe('nats-server');

    const cached = fakeServer(cachedNatsServer(env));
    expect(findNatsServer(env)).toBe(cached);

    const chosen = fakeServer(join(dir, 'chosen', 'nats-server'));
    expect(findNatsServer({ ...env, NATS_SERVER_BIN: chosen })).toBe(chosen);
  });
});
