import { describe, expect, it } from 'vitest';
import { HUB_DOMAIN, clusterName, fleetTopology, isClusterName } from './fleet.js';
import { PUSHED, STREAMS, TOPOLOGY, clusterReplaySubject } from './subjects.js';

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
