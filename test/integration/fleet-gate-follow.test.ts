import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  HEADERS,
  encode,
  fleetTopology,
  outcomeSubject,
  parseFleetWaves,
  type Outcome,
} from '@onpush/contracts';
import {
  connectNats,
  jetstream,
  jetstreamManager,
  provision,
  publisher,
  type NatsConnection,
} from '@onpush/nats';
import { followFleet, type FleetView } from '@onpush/parser';
import { createLogger } from '@onpush/telemetry';
import { eventually, useSandbox } from '@onpush/testing';

const log = createLogger({ test: 'fleet-gate-follow' }, { level: 'error' });
const waves = parseFleetWaves('staging=1,prod=2');
const web = { kind: 'Deployment', namespace: 'shop', name: 'web' } as const;

// Given a nats-server provisioned for one cluster, then as a fleet's hub with waves: the view the
// hub parser's wave gates judge from, read from the real ONPUSH_OUTCOMES.
describe("fleet wave gates: the hub's view of what each cluster settled", () => {
  const sandbox = useSandbox(['nats'], 'fleet-gate-follow');
  let nc: NatsConnection;
  const views: FleetView[] = [];

  beforeAll(async () => {
    nc = await connectNats({ url: sandbox().need('nats').url, name: 'fleet-gate-follow' });
  });
  afterAll(async () => {
    await Promise.all(views.map((v) => v.stop()));
    await nc?.close();
  });

  const follow = async () => {
    const view = await followFleet(nc, jetstream(nc), { windowMs: 60 * 60_000, log });
    views.push(view);
    return view;
  };
  const publish = (outcome: Outcome, cluster: string) =>
    publisher(jetstream(nc))(outcomeSubject(outcome.fate), encode(outcome), {
      msgId: `${outcome.eventId}:${cluster}:${outcome.fate}`,
      headers: { [HEADERS.cluster]: cluster },
    });
  const outcome = (eventId: string, fate: Outcome['fate'], extra: Partial<Outcome> = {}) =>
    ({
      v: 1,
      eventId,
      fate,
      stage: fate === 'dispatched' || fate === 'no-match' ? 'resolver' : 'restarter',
      at: new Date().toISOString(),
      ...extra,
    }) as Outcome;

  it('refuses to judge on a hub provisioned without --fleet-waves, saying what to do', async () => {
    await expect(follow()).rejects.toThrow(
      'FLEET_WAVES is set but stream ONPUSH does not take onpush.fleet.wave.*: provision the hub with --fleet-waves',
    );
  });

  it('reads what was stored before it started, then follows what comes', async () => {
    await provision(
      await jetstreamManager(nc),
      fleetTopology({ role: 'hub', clusters: [], waves }).topology,
    );
    await publish(outcome('gar:1', 'dispatched', { requests: 1 }), 'staging');
    await publish(outcome('gar:1', 'restarted', { workload: web }), 'staging');
    await publish(outcome('gar:2', 'no-match'), 'staging');

    const view = await follow();
    await eventually('caught up', () => view.caughtUp());
    expect(view.settlements.judge('gar:2', 'staging')).toMatchObject({ state: 'settled' });
    expect(view.settlements.judge('gar:1', 'staging')).toEqual({
      state: 'pending',
      waiting: 'staging: rollout of Deployment/shop/web not complete',
    });

    await publish(outcome('gar:1', 'rollout-completed', { workload: web }), 'staging');
    await eventually(
      'the rollout folded in',
      () => view.settlements.judge('gar:1', 'staging').state === 'settled',
    );
    // another cluster's outcome settles nothing for staging, and the hub's own are no cluster's
    await publish(outcome('gar:3', 'no-match'), 'prod');
    await eventually(
      'prod folded',
      () => view.settlements.judge('gar:3', 'prod').state === 'settled',
    );
    expect(view.settlements.judge('gar:3', 'staging').state).toBe('pending');
  });
});
