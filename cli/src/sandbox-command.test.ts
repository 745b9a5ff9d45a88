import { describe, expect, it } from 'vitest';
import { parseClusters } from './sandbox-command.js';

describe('--clusters', () => {
  it('takes a count or the names', () => {
    expect(parseClusters(undefined)).toBeUndefined();
    expect(parseClusters('3')).toEqual(['cluster-1', 'cluster-2', 'cluster-3']);
    expect(parseClusters('staging, prod-a')).toEqual(['staging', 'prod-a']);
  });

  it('says what is wrong with a bad list', () => {
    expect(parseClusters('0')).toBe('must name 1 to 16 clusters');
    expect(parseClusters('17')).toBe('must name 1 to 16 clusters');
    expect(parseClusters('a,hub')).toMatch(/names "hub": not a cluster name/);
    expect(parseClusters('a,B')).toMatch(/names "B"/);
    expect(parseClusters('a,a')).toBe('names a cluster twice');
  });
});
