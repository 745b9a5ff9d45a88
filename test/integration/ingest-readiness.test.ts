import { rmSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, describe, expect, it } from 'vitest';
import { Supervisor } from '@onpush/cli';
import { freePort, waitUntil } from '@onpush/sandbox';
import { useSandbox } from '@onpush/testing';
import { PUSH_PATH, pushEnv, pushHeaders } from '../support/pubsub-push.js';

/** One poll: /readyz, then a push POST, then /readyz again. */
interface Sample {
  at: number;
  phase: string;
  readyBefore: number;
  post: number;
  readyAfter: number;
}

const ok = (status: number): boolean => status >= 200 && status < 300;
const line = (s: Sample): string =>
  `${s.phase.padEnd(18)} readyz ${s.readyBefore} POST ${s.post} readyz ${s.readyAfter}`;

/**
 * A POST answer agrees with readiness when /readyz said the same just before or just after it:
 * a 2xx while /readyz said 503 both times (or a 503 while it said 200 both times) is a lie of
 * more than one poll interval.
 */
function disagreements(samples: readonly Sample[]): Sample[] {
  return samples.filter(
    (s) =>
      ok(s.post) !== ok(s.readyBefore) &&
      ok(s.post) !== ok(s.readyAfter) &&
      s.post !== 0 /* the request itself failed: no answer to compare */,
  );
}

// Given ingest (HTTP push only) started while its nats-server is down, then the server started,
// stopped, started again, and stopped and started without its store: /readyz and a POST are
// polled together in one loop all along.
describe('ingest readiness follows whether a POST can be stored', () => {
  const sandbox = useSandbox(['nats'], 'ingest-readiness');
  let supervisor: Supervisor | undefined;
  const logs: string[] = [];

  afterAll(async () => {
    await supervisor?.stop(20_000);
  });

  it('/readyz is 503 exactly while a POST is answered 503 for lack of NATS, 200 as soon as POSTs are stored', async () => {
    const nats = sandbox().need('nats');
    await nats.stop();
    const port = await freePort();
    supervisor = new Supervisor({
      env: {
        ...process.env,
        ...sandbox().env,
        PUBSUB_PULL: 'false',
        LOG_LEVEL: 'info',
        ...pushEnv(),
      },
      envFor: () => ({ PORT: String(port) }),
      services: ['ingest'],
      write: (line) => logs.push(line),
    });
    supervisor.start();
    const url = `http://127.0.0.1:${port}`;
    await waitUntil('ingest listening', async () => (await fetch(`${url}/healthz`)).ok, {
      timeoutMs: 30_000,
      intervalMs: 50,
    });

    const samples: Sample[] = [];
    let n = 0;
    const status = async (path: string, init?: RequestInit): Promise<number> => {
      try {
        const res = await fetch(`${url}${path}`, { ...init, signal: AbortSignal.timeout(15_000) });
        await res.arrayBuffer();
        return res.status;
      } catch {
        return 0;
      }
    };
    const sample = async (phase: string): Promise<Sample> => {
      n += 1;
      const readyBefore = await status('/readyz');
      const body = JSON.stringify({
        message: {
          data: Buffer.from('{"action":"INSERT"}').toString('base64'),
          messageId: `r-${n}`,
        },
      });
      const post = await status(PUSH_PATH, { method: 'POST', headers: pushHeaders(), body });
      const readyAfter = await status('/readyz');
      const s = { at: Date.now(), phase, readyBefore, post, readyAfter };
      samples.push(s);
      await sleep(50);
      return s;
    };
    /** Polls until `count` samples in a row satisfy `steady`; returns how long that took. */
    const until = async (phase: string, steady: (s: Sample) => boolean, count = 10) => {
      const started = Date.now();
      let run = 0;
      while (run < count) {
        if (Date.now() - started > 45_000) {
          const last = samples.slice(-5).map(line).join('\n');
          throw new Error(
            `${phase}: not steady after 45 s; last samples:\n${last}\n${logs.slice(-10).join('\n')}`,
          );
        }
        run = steady(await sample(phase)) ? run + 1 : 0;
      }
      return Date.now() - started;
    };
    const down = (s: Sample) => s.readyBefore === 503 && s.post === 503 && s.readyAfter === 503;
    const up = (s: Sample) => s.readyBefore === 200 && ok(s.post) && s.readyAfter === 200;

    // While NATS has never been reachable: not ready, and POSTs are refused.
    await until('never connected', down, 20);
    // When it starts: both turn, together.
    await nats.start();
    const connectMs = await until('connected', up);
    // When it goes away: both turn back.
    await nats.stop();
    const lostMs = await until('disconnected', down);
    // And back again.
    await nats.start();
    const reconnectMs = await until('reconnected', up);
    // And back as a new, empty broker (its store lost): not ready while the streams are missing
    // (ingest may not make them), ready once provisioning made them again.
    await nats.stop();
    await until('disconnected again', down);
    rmSync(nats.storeDir, { recursive: true, force: true });
    await nats.start();
    await until('fresh broker, not provisioned', down, 5);
    await nats.provision();
    const freshMs = await until('fresh broker', up);

    expect(disagreements(samples), samples.map(line).join('\n')).toEqual([]);
    // No POST hung for the request timeout: ingest answers at once when it cannot store.
    expect(samples.every((s) => s.post !== 0)).toBe(true);
    console.info(
      `ingest readiness: connected after ${connectMs} ms, down after ${lostMs} ms, back after ${reconnectMs} ms, on a fresh broker after ${freshMs} ms; ${samples.length} samples`,
    );
  });
});
