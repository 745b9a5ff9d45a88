import { describe, expect, it } from 'vitest';
import {
  HUB_DOMAIN,
  clusterName,
  earlierWaveClusters,
  fleetTopology,
  fleetWaveNumbers,
  fleetWaveOf,
  isClusterName,
  parseFleetWaves,
} from './fleet.js';
import {
  FLEET_WAVE_ALL,
  PUSHED,
  STREAMS,
  TOPOLOGY,
  clusterReplaySubject,
  fleetWaveSubject,
} from './subjects.js';

describe('fleet topology', () => {
  it("the hub copies every cluster's outcomes and dead letters, and runs the hub's consumers", () => {
    const { topology, consumers } = fleetTopology({ role: 'hub', clusters: ['staging', 'prod'] });
    const from = (domain: string, name: string) => ({ name, domain });
    expect(topology.streams.outcomes.sources).toEqual([
      from('staging', STREAMS.outcomes),
      from('prod', STREAMS.outcomes),
    ]);
    expect(topology.streams.dlq.sources).toEqual([
      from('staging', STREAMS.dlq),
      from('prod', STREAMS.dlq),
    ]);
    expect(topology.streams.main.sources).toBeUndefined();
    expect(topology.streams.main.subjects).toContain('onpush.replay.>');
    expect(consumers).toEqual(['parser', 'dlq-manager', 'dlq-manager-advisories']);
  });

  it("a cluster copies only the hub's pushes, and runs resolver, restarter and dlq-manager", () => {
    const { topology, consumers } = fleetTopology({ role: 'cluster', cluster: 'prod' });
    expect(topology.streams.main.sources).toEqual([
      {
        name: STREAMS.main,
        domain: HUB_DOMAIN,
        transforms: [
          { src: PUSHED, dest: PUSHED },
          { src: 'onpush.replay.prod.>', dest: 'onpush.>' },
        ],
      },
    ]);
    expect(topology.streams.outcomes.sources).toBeUndefined();
    expect(consumers).toEqual(['resolver', 'restarter', 'dlq-manager', 'dlq-manager-advisories']);
    expect(clusterReplaySubject('prod', 'onpush.restart.shop')).toBe(
      'onpush.replay.prod.restart.shop',
    );
    // Everything else is the single-cluster topology, unchanged.
    expect({ ...topology.streams.main, sources: undefined }).toEqual({
      ...TOPOLOGY.streams.main,
      sources: undefined,
    });
  });

  it('names a cluster with a DNS label that is not the hub', () => {
    expect(isClusterName('prod-eu-1')).toBe(true);
    for (const bad of ['hub', 'Prod', 'a.b', 'a>', ''])
      expect(() => clusterName(bad), bad).toThrow('invalid subject token');
    expect(() => fleetTopology({ role: 'cluster', cluster: 'hub' })).toThrow();
    expect(() => fleetTopology({ role: 'hub', clusters: ['ok', 'not ok'] })).toThrow();
  });
});

describe('fleet waves (FLEET_WAVES)', () => {
  const waves = parseFleetWaves('staging=1, prod-*=2, dr=3');

  it('reads names and globs, the first that matches giving a cluster its wave', () => {
    expect(fleetWaveOf(waves, 'staging')).toBe(1);
    expect(fleetWaveOf(waves, 'prod-eu')).toBe(2);
    expect(fleetWaveOf(waves, 'prod-')).toBe(2);
    expect(fleetWaveOf(waves, 'dr')).toBe(3);
    // outside the waves: every push at once, and nobody waits for it
    expect(fleetWaveOf(waves, 'dev')).toBeUndefined();
    expect(fleetWaveOf(waves, 'xprod-eu')).toBeUndefined();
    expect(fleetWaveNumbers(waves)).toEqual([1, 2, 3]);
    expect(earlierWaveClusters(waves, ['dev', 'staging', 'prod-a', 'prod-b', 'dr'], 3)).toEqual([
      'staging',
      'prod-a',
      'prod-b',
    ]);
  });

  it.each([
    ['', 'no waves'],
    ['staging', 'expected <cluster or glob>=<wave 1-9>'],
    ['staging=0', 'expected'],
    ['staging=10', 'expected'],
    ['Staging=1', 'expected'],
    ['prod.eu=2', 'expected'],
  ])('refuses %j, saying what is wrong', (text, message) => {
    expect(() => parseFleetWaves(text)).toThrow(message);
  });

  it('the hub gates every later wave (a durable consumer each) and keeps what they let through', () => {
    const { topology } = fleetTopology({ role: 'hub', clusters: ['staging', 'prod-a'], waves });
    expect(topology.streams.main.subjects).toContain(FLEET_WAVE_ALL);
    expect(topology.gates?.map((g) => g.durable)).toEqual(['fleet-wave-2', 'fleet-wave-3']);
    expect(topology.gates?.[0]).toMatchObject({
      stream: STREAMS.main,
      filterSubject: PUSHED,
      stage: 'parser',
    });
    // without waves, nothing of it
    const plain = fleetTopology({ role: 'hub', clusters: ['staging'] }).topology;
    expect(plain.gates).toBeUndefined();
    expect(plain.streams.main.subjects).not.toContain(FLEET_WAVE_ALL);
  });

  it('the first wave and clusters outside the waves copy every push; a later wave its gate’s', () => {
    const pushes = (cluster: string) =>
      fleetTopology({ role: 'cluster', cluster, waves }).topology.streams.main.sources?.[0]
        ?.transforms?.[0];
    expect(pushes('staging')).toEqual({ src: PUSHED, dest: PUSHED });
    expect(pushes('dev')).toEqual({ src: PUSHED, dest: PUSHED });
    expect(pushes('prod-a')).toEqual({ src: fleetWaveSubject(2), dest: PUSHED });
    expect(pushes('dr')).toEqual({ src: 'onpush.fleet.wave.3', dest: PUSHED });
  });
});
