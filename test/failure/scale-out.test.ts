// Exactly one fate per event under crashes, with every stage scaled out. Three replicas
// of every service (the production overlay's shape: replicas share a stage's durable consumer,
// ingest's replicas share the Pub/Sub subscription) take a storm of mixed traffic — Artifact
// Registry notifications pulled from Pub/Sub and Distribution webhooks POSTed round-robin to the
// ingest replicas, with repeats (the same digest pushed again under a new id), retried deliveries
// (the same webhook delivery sent twice) and garbage (bodies that are not JSON, events that break
// the format) — while one replica of each service is killed with SIGKILL and nats-server is
// SIGKILLed and started again on its store.
//
// What must hold, from what a user can see: every accepted delivery (Pub/Sub message published,
// webhook answered 2xx) is exactly one event in `onpush audit`, which finds nothing unaccounted
// and no doubled fate; every garbage body is one DLQ entry with its reason; the API server's own
// audit log shows at most one PATCH per (workload, digest); every workload ends on the last
// digest pushed for its image.
//
// Full size: 200 workloads, 20 rounds —
//   ONPUSH_FAILURE_SCALE=full npx vitest run --project failure test/failure/scale-out.test.ts
import { setTimeout as sleep } from 'node:timers/promises';
import type { PubSub, Topic } from '@google-cloud/pubsub';
import { describe, expect, it } from 'vitest';
import { SERVICES, type ServiceName } from '@onpush/cli';
import { HEADERS } from '@onpush/contracts';
import { openDlqStore } from '@onpush/dlq';
import { connectNats } from '@onpush/nats';
import { eventually, useSandbox } from '@onpush/testing';
import {
  deliverTo,
  digestOf,
  distributionBody,
  finalPatchNotOnce,
  patchedTwice,
  planFleet,
  pool,
  pullTopic,
  readiness,
  scaled,
  settled,
  staleWorkloads,
  storedAll,
  unacked,
  useFleetPipeline,
  type Delivery,
} from './harness.js';

const WORKLOADS = scaled(30, 200);
const ROUNDS = scaled(6, 20);
const REPLICAS = 3;
const SUBSCRIPTION = 'onpush-scale-out';
const TOKEN = 'scale-out-webhook-token-0123456789abcdef';
const WEBHOOKS = JSON.stringify({
  endpoints: [
    {
      name: 'dist',
      source: 'distribution',
      auth: { type: 'token', secretEnv: 'DIST_TOKEN', prefix: 'Bearer ' },
    },
  ],
});

/** One thing the storm sends, and what must become of it. */
interface Sent {
  via: 'pubsub' | 'webhook';
  /** The event id onpush gives it: `gar:<messageId>` or `distribution:<id>`. */
  eventId: string;
  image?: string;
  digest?: string;
  /** Garbage: the DLQ reason it must end with. */
  dead?: string;
}

const replicasOf = Object.fromEntries(SERVICES.map((s) => [s, REPLICAS])) as Record<
  ServiceName,
  number
>;

// Given a fleet of opted-in Deployments, a Pub/Sub topic with a pull subscription, and three
// replicas of each of the five services, ingest's replicas pulling that subscription and serving
// a Distribution webhook endpoint with a bearer token.
describe('scale-out storm: three replicas of every stage, kill -9 of services and of NATS', () => {
  const sandbox = useSandbox(['nats', 'pubsub', 'kube'], 'scale-out');
  /** Everything this file does comes after this: what `onpush audit --since` checks. */
  const since = new Date();
  const fleet = planFleet({
    workloads: WORKLOADS,
    perImage: 2,
    namespaces: ['scale-a', 'scale-b', 'scale-c'],
  });
  let pubsub: PubSub;
  let topic: Topic;
  const run = useFleetPipeline(sandbox, {
    fleet,
    replicas: replicasOf,
    env: async () => {
      ({ pubsub, topic } = await pullTopic(sandbox(), SUBSCRIPTION));
      return {
        ingest: {
          PUBSUB_SUBSCRIPTION: SUBSCRIPTION,
          PUBSUB_CREATE_SUBSCRIPTION: 'false',
          WEBHOOKS,
          DIST_TOKEN: TOKEN,
        },
      };
    },
    after: async () => pubsub?.close(),
  });

  let nextIngest = 0;
  /** The webhook URL of the next ingest replica, round-robin (as a Service spreads requests). */
  const webhookUrl = (): string => {
    const ports = run.replicaPorts.ingest;
    nextIngest = (nextIngest + 1) % ports.length;
    return `http://127.0.0.1:${ports[nextIngest]}/webhooks/dist`;
  };

  async function postWebhook(body: string): Promise<Delivery> {
    return deliverTo(webhookUrl, body, { authorization: `Bearer ${TOKEN}` }, 180_000);
  }

  async function publish(data: string): Promise<string> {
    return topic.publishMessage({ data: Buffer.from(data) });
  }

  /** One round: digest `r` of every image, half by Pub/Sub, half by webhook, plus extras. */
  async function sendRound(r: number, sent: Sent[], deliveries: Delivery[]): Promise<void> {
    const jobs: (() => Promise<void>)[] = [];
    fleet.images.forEach((image, i) => {
      const digest = digestOf(image, r);
      const viaPubsub = (i + r) % 2 === 0;
      const send = async (label: string): Promise<void> => {
        if (viaPubsub) {
          const body = JSON.stringify({
            action: 'INSERT',
            digest: `${image}@${digest}`,
            tag: `${image}:1.0`,
          });
          const id = await publish(body);
          sent.push({ via: 'pubsub', eventId: `gar:${id}`, image, digest });
        } else {
          const id = `scale-${r}-${i}-${label}`;
          const body = distributionBody(id, image, digest);
          const delivery = await postWebhook(body);
          deliveries.push(delivery);
          sent.push({ via: 'webhook', eventId: `distribution:${id}`, image, digest });
          // a sender that did not see the answer sends the same delivery again: stored once
          if (i % 5 === 1) deliveries.push(await postWebhook(body));
        }
      };
      jobs.push(() => send('a'));
      // a repeat: the same digest pushed again under a new id (a CI loop, a second endpoint)
      if (i % 4 === 0) jobs.push(() => send('b'));
    });
    // garbage: a Pub/Sub message that is not JSON, and a webhook event without its target
    jobs.push(async () => {
      const id = await publish(`{"action":"INSERT","tag": round-${r}`);
      sent.push({ via: 'pubsub', eventId: `gar:${id}`, dead: 'invalid_json' });
    });
    jobs.push(async () => {
      const id = `scale-garbage-${r}`;
      const body = JSON.stringify({ events: [{ id, action: 'push', request: { host: 'x.io' } }] });
      deliveries.push(await postWebhook(body));
      sent.push({ via: 'webhook', eventId: `distribution:${id}`, dead: 'missing_field' });
    });
    await pool(jobs, 12, (job) => job());
  }

  /** Kills one replica of each service in turn (a different replica each), when it is busy. */
  async function killOneReplicaEach(): Promise<string[]> {
    const natsUrl = sandbox().need('nats').url;
    const killed: string[] = [];
    for (const [n, service] of SERVICES.entries()) {
      const replica = n % REPLICAS;
      let busy = 0;
      if (service !== 'ingest') {
        const until = Date.now() + 3_000;
        while (busy === 0 && Date.now() < until) {
          busy = await unacked(natsUrl, service).catch(() => 0);
          if (busy === 0) await sleep(10);
        }
      }
      const exit = await run.supervisor.kill(service, 'SIGKILL', replica);
      killed.push(`${service}#${replica} (exit ${String(exit)}, ${busy} unacked)`);
      await sleep(300);
    }
    return killed;
  }

  it('accounts for every accepted delivery once, patches no (workload, digest) twice, ends on the last digests', async () => {
    const nats = sandbox().need('nats');
    const sent: Sent[] = [];
    const deliveries: Delivery[] = [];
    const started = Date.now();

    // When the storm is sent round after round, while one replica of each service is killed
    // with SIGKILL and, later, nats-server is killed with SIGKILL and started on its store
    const storm = (async () => {
      for (let r = 0; r < ROUNDS; r += 1) {
        const round = Date.now();
        await sendRound(r, sent, deliveries);
        await sleep(Math.max(0, 400 - (Date.now() - round)));
      }
    })();
    const chaos = (async () => {
      await sleep(800);
      const killed = await killOneReplicaEach();
      await sleep(500);
      const down = Date.now();
      await nats.kill();
      await sleep(1_500);
      await nats.start();
      return { killed, natsDownMs: Date.now() - down };
    })();
    const [, { killed, natsDownMs }] = await Promise.all([storm, chaos]);
    console.info(
      `scale-out: ${sent.length} deliveries sent in ${Date.now() - started} ms; killed ${killed.join(', ')}; nats down ${natsDownMs} ms`,
    );

    // Then every webhook delivery was answered 2xx (after retries while ingest or NATS was away)
    expect(deliveries.filter((d) => d.status < 200 || d.status >= 300)).toEqual([]);
    // and every replica came back: the killed ones were restarted, none else
    expect(run.supervisor.restarts()).toEqual(Object.fromEntries(SERVICES.map((s) => [s, 1])));
    await eventually(
      'every replica ready again',
      async () =>
        Object.values(
          await readiness(
            Object.fromEntries(
              SERVICES.flatMap((s) => run.replicaPorts[s].map((p, i) => [`${s}-${i}`, p])),
            ),
          ),
        ).every(Boolean),
      { timeoutMs: 60_000, intervalMs: 200 },
    );

    // and every accepted delivery is stored: a Pub/Sub message a killed ingest replica held
    // comes back only once its lease ran out, which can be after the pipeline fell quiet
    const accepted = [...new Set(sent.map((s) => s.eventId))].sort();
    await storedAll(nats.url, accepted, 120_000);
    // and, once the broker's redeliveries are done, `onpush audit` finds every event accounted
    // for exactly once: nothing unaccounted, no doubled fate
    const account = await settled(nats.url, since, 240_000).catch((error: unknown) => {
      throw new Error(`${String(error)}\n${run.logs.slice(-60).join('\n')}`);
    });
    console.info(
      `scale-out: settled ${Date.now() - started} ms after the first delivery; fates ${JSON.stringify(account.audit.fates)}`,
    );
    expect(account.audit.unaccounted).toEqual([]);
    // every accepted delivery is one event, and no event came from anywhere else
    const events = [...new Set(account.ledger.raw.map((r) => r.eventId))].sort();
    expect(events).toEqual(accepted);
    expect(account.audit.events).toBe(accepted.length);

    // every garbage body is exactly one dead letter, with its reason
    const nc = await connectNats({ url: nats.url, name: 'onpush-failure-dlq' });
    try {
      const { entries } = await (await openDlqStore(nc)).list({ stage: 'parser', limit: 10_000 });
      const got = entries.map((e) => `${String(e.headers[HEADERS.eventId])} ${e.reason}`).sort();
      const want = sent
        .filter((s) => s.dead !== undefined)
        .map((s) => `${s.eventId} ${s.dead}`)
        .sort();
      expect(got).toEqual(want);
      // and nothing else died: no restart request or push of a real image was given up on
      const dead = account.ledger.outcomes.filter((o) => o.fate === 'dead');
      expect(dead.map((o) => `${o.eventId} ${o.reason ?? ''}`).sort()).toEqual(want);
    } finally {
      await nc.close();
    }

    // the API server's audit log shows no (workload, digest) patched twice, and the last digest
    // of every image patched exactly once
    const last = new Map<string, string>();
    for (let r = 0; r < ROUNDS; r += 1)
      for (const image of fleet.images) last.set(image, digestOf(image, r));
    expect(patchedTwice(sandbox())).toEqual([]);
    expect(finalPatchNotOnce(sandbox(), fleet, last, account.ledger.outcomes)).toEqual([]);
    expect(await staleWorkloads(run.kube, fleet, last)).toEqual([]);
  });
});
