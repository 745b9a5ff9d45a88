import { copyFileSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  BUCKETS,
  NATS_IDENTITIES,
  PUSHED,
  STREAMS,
  WORKLOAD_QUERY,
  rawSubject,
  heldSubject,
  restartSubject,
  type NatsIdentity,
} from '@onpush/contracts';
import {
  CA_FILE,
  connectNats,
  ensureCredentials,
  followStream,
  jetstream,
  jetstreamManager,
  publisher,
} from '@onpush/nats';
import { useSandbox } from '@onpush/testing';

const request = {
  v: 1,
  eventId: 'forged-1',
  requestId: 'forged-1:kube-system/Deployment/coredns',
  workload: { namespace: 'kube-system', kind: 'Deployment', name: 'coredns' },
};

const body = new TextEncoder().encode(JSON.stringify(request));

/** The stream's message count: what a forged publish would have added to. */
async function stored(url: string, stream: string): Promise<number> {
  const nc = await connectNats({ url, name: 'security-admin' });
  try {
    return (await (await jetstreamManager(nc)).streams.info(stream)).state.messages;
  } finally {
    await nc.close();
  }
}

/** Publishes through JetStream as `identity`; resolves to the error the client saw, if any. */
async function publishAs(
  url: string,
  dir: string,
  identity: NatsIdentity,
  subject: string,
): Promise<string | undefined> {
  const nc = await connectNats({
    url,
    name: `security-${identity}`,
    credentialsDir: dir,
    identity,
  });
  try {
    await publisher(jetstream(nc, { timeout: 2_000 }))(subject, body, {
      msgId: `${identity}:${subject}`,
    });
    return undefined;
  } catch (error) {
    return error instanceof Error ? error.message : String(error);
  } finally {
    await nc.close();
  }
}

// Given the sandbox's nats-server, configured with onpush's identities as every deployment is.
describe('NATS: every client signs in, and each identity may publish only its own subjects', () => {
  const sandbox = useSandbox(['nats'], 'nats-auth');
  const url = (): string => sandbox().need('nats').url;
  const dir = (): string => sandbox().need('nats').credentialsDir;

  it('refuses a client without credentials, and one with keys the server does not know', async () => {
    // connectNats reads NATS_CREDENTIALS_DIR when none is given: hide it for this attempt.
    const saved = process.env['NATS_CREDENTIALS_DIR'];
    delete process.env['NATS_CREDENTIALS_DIR'];
    try {
      // Without the CA it cannot even complete TLS; nothing is sent in the clear.
      await expect(
        connectNats({ url: url(), name: 'anonymous' }).then((nc) => nc.close()),
      ).rejects.toThrow(/certificate|tls/i);
    } finally {
      process.env['NATS_CREDENTIALS_DIR'] = saved;
    }

    // Well-formed seeds of the same identities and the right CA, but not this server's keys.
    const stranger = ensureCredentials(mkdtempSync(join(tmpdir(), 'onpush-stranger-'))).dir;
    copyFileSync(join(dir(), CA_FILE), join(stranger, CA_FILE));
    for (const identity of ['admin', 'ingest'] as const) {
      await expect(
        connectNats({ url: url(), name: 'stranger', credentialsDir: stranger, identity }).then(
          (nc) => nc.close(),
        ),
      ).rejects.toThrow(/authorization/i);
    }
  });

  it("refuses a restart request published with ingest's credentials, and stores nothing", async () => {
    const before = await stored(url(), STREAMS.main);

    const refused = await publishAs(url(), dir(), 'ingest', restartSubject('kube-system'));

    expect(refused).toMatch(/permission|timeout/i);
    expect(await stored(url(), STREAMS.main)).toBe(before);
  });

  it('lets only the resolver publish restart requests, only ingest raw deliveries, only the parser events', async () => {
    const allowed: [NatsIdentity, string][] = [
      ['ingest', rawSubject('gar')],
      ['parser', PUSHED],
      ['resolver', restartSubject('team-a')],
      // the restarter puts back only its own held requests, on their own subject
      ['restarter', heldSubject('team-a')],
    ];
    for (const [identity, subject] of allowed) {
      expect(await publishAs(url(), dir(), identity, subject), `${identity} → ${subject}`).toBe(
        undefined,
      );
    }
    const refused: [NatsIdentity, string][] = [
      ['parser', restartSubject('team-a')],
      ['restarter', restartSubject('team-a')],
      ['restarter', PUSHED],
      ['parser', heldSubject('team-a')],
      ['ingest', heldSubject('team-a')],
      ['resolver', rawSubject('gar')],
      ['ingest', PUSHED],
    ];
    const before = await stored(url(), STREAMS.main);
    for (const [identity, subject] of refused) {
      expect(await publishAs(url(), dir(), identity, subject), `${identity} → ${subject}`).toMatch(
        /permission|timeout/i,
      );
    }
    expect(await stored(url(), STREAMS.main)).toBe(before);
  });

  it('lets only the dlq-manager ask how the resolver sees a workload, and only the resolver answer', async () => {
    const as = (identity: NatsIdentity) =>
      connectNats({ url: url(), name: `security-${identity}`, credentialsDir: dir(), identity });
    const resolver = await as('resolver');
    const dlq = await as('dlq-manager');
    const parser = await as('parser');
    const ingest = await as('ingest');
    try {
      resolver.subscribe(WORKLOAD_QUERY, {
        queue: 'resolver',
        callback: (_error, m) => {
          m.respond(JSON.stringify({ v: 1, workload: null }));
        },
      });
      await resolver.flush();
      const ref = JSON.stringify({ kind: 'Deployment', namespace: 'shop', name: 'web' });
      const answer = await dlq.request(WORKLOAD_QUERY, ref, { timeout: 2_000 });
      expect(JSON.parse(new TextDecoder().decode(answer.data))).toEqual({ v: 1, workload: null });
      // another identity may not ask ...
      await expect(parser.request(WORKLOAD_QUERY, ref, { timeout: 1_000 })).rejects.toThrow(
        /permission|timeout/i,
      );
      // ... nor listen in, to answer in the resolver's place
      const eavesdrop = ingest.subscribe(WORKLOAD_QUERY);
      const closed = await Promise.race([
        eavesdrop.closed,
        new Promise((resolve) => setTimeout(() => resolve('still open'), 3_000)),
      ]);
      expect(String(closed)).toMatch(/permission/i);
    } finally {
      await Promise.all([resolver, dlq, parser, ingest].map((nc) => nc.close()));
    }
  });

  it('gives services no JetStream administration: no stream, consumer or bucket changes', async () => {
    for (const identity of NATS_IDENTITIES.filter((id) => id !== 'admin')) {
      const nc = await connectNats({
        url: url(),
        name: `security-${identity}`,
        credentialsDir: dir(),
        identity,
      });
      try {
        const jsm = await jetstreamManager(nc, { timeout: 2_000 });
        await expect(jsm.streams.delete(STREAMS.main), identity).rejects.toThrow();
        await expect(jsm.streams.purge(STREAMS.outcomes), identity).rejects.toThrow();
        await expect(
          jsm.streams.add({ name: 'EVIL', subjects: ['onpush.restart.>'] }),
          identity,
        ).rejects.toThrow();
        await expect(
          jsm.streams.delete(`KV_${BUCKETS.resolverDecisions}`),
          identity,
        ).rejects.toThrow();
      } finally {
        await nc.close();
      }
    }
    expect(await stored(url(), STREAMS.main)).toBeGreaterThanOrEqual(0);
    const nc = await connectNats({ url: url(), name: 'security-admin' });
    try {
      const names = await (await jetstreamManager(nc)).streams.names().next();
      expect(names).toContain(STREAMS.main);
      expect(names).not.toContain('EVIL');
    } finally {
      await nc.close();
    }
  });

  it("lets the dlq-manager's console follow the outcomes and read lags, and nothing more", async () => {
    const nc = await connectNats({
      url: url(),
      name: 'security-console',
      credentialsDir: dir(),
      identity: 'dlq-manager',
    });
    try {
      const js = jetstream(nc, { timeout: 2_000 });
      // What the console does: an ordered consumer on the outcomes, every consumer's lag.
      const following = await followStream(js, STREAMS.outcomes);
      await following.stop();
      const jsm = await jetstreamManager(nc, { timeout: 2_000 });
      expect((await jsm.consumers.info(STREAMS.main, 'parser')).name).toBe('parser');
      // What it may not: read the work in flight with a consumer of its own, change or delete a
      // stage's consumer, or read another stream's messages.
      await expect(followStream(js, STREAMS.main)).rejects.toThrow();
      await expect(
        jsm.consumers.update(STREAMS.main, 'parser', { max_deliver: 1 }),
      ).rejects.toThrow();
      await expect(jsm.consumers.delete(STREAMS.main, 'resolver')).rejects.toThrow();
    } finally {
      await nc.close();
    }
    const admin = await connectNats({ url: url(), name: 'security-admin' });
    try {
      const jsm = await jetstreamManager(admin);
      expect((await jsm.consumers.info(STREAMS.main, 'parser')).config.max_deliver).not.toBe(1);
      expect((await jsm.consumers.info(STREAMS.main, 'resolver')).name).toBe('resolver');
    } finally {
      await admin.close();
    }
  });
});
