import { describe, expect, it } from 'vitest';
import { Supervisor } from '@onpush/cli';
import { freePort, waitUntil } from '@onpush/sandbox';
import { useSandbox } from '@onpush/testing';

// Given a stage running against a real nats-server that then goes away, SIGTERM still ends it:
// draining is bounded, it does not wait for a broker that is not there.
describe('shutdown while the broker is down', () => {
  const sandbox = useSandbox(['nats'], 'shutdown');

  it('exits 0 within the drain bound after SIGTERM with NATS stopped', async () => {
    const port = await freePort();
    const supervisor = new Supervisor({
      env: { ...process.env, ...sandbox().env },
      envFor: () => ({ PORT: String(port) }),
      services: ['parser'],
      write: () => undefined,
    });
    supervisor.start();
    await waitUntil(
      'parser ready',
      async () => (await fetch(`http://127.0.0.1:${port}/readyz`)).ok,
      {
        timeoutMs: 60_000,
      },
    );
    await sandbox().need('nats').stop();
    await waitUntil(
      'parser degraded',
      async () => (await fetch(`http://127.0.0.1:${port}/readyz`)).status === 503,
      {
        timeoutMs: 15_000,
      },
    );
    const started = Date.now();
    const codes = await supervisor.stop(20_000);
    expect(codes).toEqual({ parser: 0 });
    expect(Date.now() - started).toBeLessThan(12_000);
  });
});
