// Failure mode: ingest is killed after JetStream stored a pulled Pub/Sub message but
// before Pub/Sub got the ack. Pub/Sub redelivers it once its ack deadline passes; the new ingest
// publishes it again under the same Nats-Msg-Id, JetStream rejects the duplicate, nothing
// restarts twice.
//
// How the window is hit, every time: the test listens on `onpush.raw.gar` (core NATS sees every
// publish the stream stores) and sends SIGKILL the moment the first raw message shows up. The
// server already has the message; ingest acks Pub/Sub only after JetStream's answer, and the
// client library batches acks, so the ack never leaves.
//
// Size: 10 workloads, 4 pushes of each of 5 images (the full size is
// 40 workloads, 10 pushes of each of 20 images) —
//   ONPUSH_FAILURE_SCALE=full npx vitest run --project failure test/failure/ingest-crash.test.ts
import { setTimeout as sleep } from 'node:timers/promises';
import type { PubSub, Topic } from '@google-cloud/pubsub';
import { describe, expect, it } from 'vitest';
import { HEADERS } from '@onpush/contracts';
import { connectNats } from '@onpush/nats';
import { eventually, useSandbox } from '@onpush/testing';
import {
  finalPatchNotOnce,
  lastDigests,
  metric,
  patchedTwice,
  planFleet,
  planStorm,
  pullTopic,
  scaled,
  settled,
  staleWorkloads,
  storedAll,
  useFleetPipeline,
  within,
  type Push,
} from './harness.js';

const WORKLOADS = scaled(10, 40);
const ROUNDS = scaled(4, 10);
const SUBSCRIPTION = 'onpush-gcr';

// Given a pull subscription with the emulator's shortest ack deadline (10 s), a fleet of
// Deployments, and the five services, ingest pulling from that subscription.
describe('ingest crash between the JetStream ack and the Pub/Sub ack', () => {
  const sandbox = useSandbox(['nats', 'pubsub', 'kube'], 'ingest-crash');
  /** Everything this file does comes after this: what `onpush audit --since` checks. */
  const since = new Date();
  const fleet = planFleet({ workloads: WORKLOADS, perImage: 2, namespaces: ['pull-a', 'pull-b'] });
  let pubsub: PubSub;
  let topic: Topic;
  const run = useFleetPipeline(sandbox, {
    fleet,
    // the subscription exists before ingest starts pulling from it
    env: async () => {
      ({ pubsub, topic } = await pullTopic(sandbox(), SUBSCRIPTION));
      return { ingest: { PUBSUB_SUBSCRIPTION: SUBSCRIPTION } };
    },
    after: async () => pubsub?.close(),
  });

  it('stores the redelivered message once and restarts nothing twice', async () => {
    const natsUrl = sandbox().need('nats').url;
    const nc = await connectNats({ url: natsUrl, name: 'onpush-failure-watch' });
    const killed = new Promise<{ eventId: string; exit: number | null }>((resolve) => {
      nc.subscribe('onpush.raw.gar', {
        max: 1,
        callback: (_error, msg) => {
          const eventId = msg.headers?.get(HEADERS.eventId) ?? '';
          void run.supervisor.kill('ingest', 'SIGKILL').then((exit) => resolve({ eventId, exit }));
        },
      });
    });
    await nc.flush();

    // When the pushes are published, and ingest is killed as the first one reaches JetStream
    const rounds = planStorm(fleet, fleet.images.length * ROUNDS, { label: 'pull' });
    const pushes: Push[] = [];
    const started = Date.now();
    for (const round of rounds) {
      for (const p of round) {
        const messageId = await topic.publishMessage({ data: Buffer.from(p.body) });
        pushes.push({ ...p, messageId });
      }
      await sleep(1_000);
    }
    const crash = await within(killed, 30_000, 'ingest killed on the first raw message');
    await nc.close();
    expect(crash.exit).toBeNull();

    // Then the new ingest is handed the message again by Pub/Sub, and JetStream rejects it
    const duplicates = await eventually(
      'a redelivery rejected as a duplicate',
      async () => {
        const n = await metric(run.ports.ingest, 'onpush_ingest_deliveries_total', {
          via: 'pull',
          result: 'duplicate',
        });
        return n > 0 ? n : undefined;
      },
      { timeoutMs: 90_000, intervalMs: 500 },
    );
    console.info(
      `ingest-crash: killed on ${crash.eventId}; ${duplicates} duplicate(s) after ${Date.now() - started} ms`,
    );
    expect(run.supervisor.restarts().ingest).toBe(1);

    // every published message reaches JetStream (those the killed ingest held come back from
    // Pub/Sub after their ack deadline), is stored once and accounted for once,
    const published = new Set(pushes.map((p) => `gar:${p.messageId}`));
    await storedAll(natsUrl, published);
    const account = await settled(natsUrl, since, 120_000).catch((error: unknown) => {
      throw new Error(`${String(error)}\n${run.logs.slice(-40).join('\n')}`);
    });
    console.info(`ingest-crash: settled ${Date.now() - started} ms after the first publish`);
    expect(account.audit.unaccounted).toEqual([]);
    expect(account.ledger.raw.filter((r) => r.eventId === crash.eventId)).toHaveLength(1);
    expect(account.ledger.raw.map((r) => r.eventId).sort()).toEqual([...published].sort());
    // and no (workload, digest) was patched twice; every workload ends on its last digest
    const last = lastDigests(pushes);
    expect(patchedTwice(sandbox())).toEqual([]);
    expect(finalPatchNotOnce(sandbox(), fleet, last, account.ledger.outcomes)).toEqual([]);
    expect(await staleWorkloads(run.kube, fleet, last)).toEqual([]);
  });
});
