// The set-up every failure test shares: a fleet created in the cluster, then the five services
// under the supervisor, stopped after the file.
import { PubSub, type Topic } from '@google-cloud/pubsub';
import { afterAll, beforeAll } from 'vitest';
import type { ServiceName, Supervisor } from '@onpush/cli';
import type { KubeClients } from '@onpush/kube';
import type { Sandbox } from '@onpush/sandbox';
import { startPipeline } from '../e2e/pipeline.js';
import { pushEnv } from '../support/pubsub-push.js';
import { adminKube, createFleet, type Fleet } from './fleet.js';

/**
 * Ingest's env to take Pub/Sub push deliveries over HTTP only (authenticated, at the `pubsub`
 * endpoint `deliver` posts to): no pull, no subscription.
 */
export const PUSH_ONLY: NodeJS.ProcessEnv = {
  PUBSUB_PULL: 'false',
  PUBSUB_CREATE_SUBSCRIPTION: 'false',
  ...pushEnv(),
};

/** Env to add, per service. */
export type ServiceEnv = Partial<Record<ServiceName, NodeJS.ProcessEnv>>;

/** What a failure test works with; filled in before all tests of the file. */
export interface FleetRun {
  /** The cluster, as its admin. */
  kube: KubeClients;
  supervisor: Supervisor;
  ports: Record<ServiceName, number>;
  /** Every replica's port, by service (replica 0 first). */
  replicaPorts: Record<ServiceName, number[]>;
  logs: string[];
}

/**
 * Registers beforeAll/afterAll: before all, `fleet` is created in the cluster, then `env` is
 * made (a function: for what must exist before the services start, e.g. a subscription) and the
 * five services start with it; after all, the services stop, then `after` runs. The returned
 * object is filled in inside tests.
 */
export function useFleetPipeline(
  sandbox: () => Sandbox,
  options: {
    fleet: Fleet;
    env?: ServiceEnv | (() => Promise<ServiceEnv>);
    /** Processes per service (default one each). */
    replicas?: Partial<Record<ServiceName, number>>;
    after?: () => Promise<unknown>;
  },
): FleetRun {
  const run = {} as FleetRun;
  beforeAll(async () => {
    run.kube = adminKube(sandbox());
    await createFleet(run.kube, options.fleet);
    const { env = {} } = options;
    const extra = typeof env === 'function' ? await env() : env;
    Object.assign(run, await startPipeline(sandbox(), extra, options.replicas));
  });
  afterAll(async () => {
    await (run.supervisor as Supervisor | undefined)?.stop();
    await options.after?.();
  });
  return run;
}

/** The registry's Pub/Sub topic `gcr` in the emulator, with a pull subscription for ingest. */
export interface PullTopic {
  pubsub: PubSub;
  topic: Topic;
}

/**
 * Creates topic `gcr` and pull subscription `subscription` (the emulator's shortest ack
 * deadline, 10 s) before ingest starts pulling from it; close `pubsub` after the file.
 */
export async function pullTopic(sandbox: Sandbox, subscription: string): Promise<PullTopic> {
  const pubsub = new PubSub({
    projectId: sandbox.pubsubProject,
    apiEndpoint: sandbox.need('pubsub').host,
    emulatorMode: true,
  });
  const [topic] = await pubsub.createTopic('gcr');
  await topic.createSubscription(subscription, { ackDeadlineSeconds: 10 });
  return { pubsub, topic };
}
