import { describe, expect, it } from 'vitest';
import { DlqError } from './errors.js';
import {
  describeFilter,
  filterFromQuery,
  isSelective,
  matches,
  parseFilter,
  parseSince,
} from './filter.js';

const NOW = new Date('2025-05-01T12:00:00.000Z');

function problem(run: () => unknown): string {
  try {
    run();
  } catch (error) {
    if (error instanceof DlqError) return `${error.type}: ${error.message}`;
    throw error;
  }
  throw new Error('expected a DlqError');
}

describe('parseSince', () => {
  it.each([
    ['30s', '2025-05-01T11:59:30.000Z'],
    ['90m', '2025-05-01T10:30:00.000Z'],
    ['1h', '2025-05-01T11:00:00.000Z'],
    ['1.5h', '2025-05-01T10:30:00.000Z'],
    ['7d', '2025-04-24T12:00:00.000Z'],
    ['2w', '2025-04-17T12:00:00.000Z'],
    ['2025-04-30', '2025-04-30T00:00:00.000Z'],
    ['2025-04-30T08:00:00Z', '2025-04-30T08:00:00.000Z'],
    ['2025-04-30T08:00:00.250+02:00', '2025-04-30T06:00:00.250Z'],
    ['2025-04-30T08:00Z', '2025-04-30T08:00:00.000Z'],
  ])('%s → %s', (raw, expected) => {
    expect(parseSince(raw, NOW)?.toISOString()).toBe(expected);
  });

  it.each([
    '1',
    '1 h',
    '-1h',
    'h',
    '1y',
    'yesterday',
    '2025-04-30T08:00:00',
    '2025-13-45',
    '2025-02-30T00:00:00Z',
  ])('rejects %j', (raw) => {
    expect(parseSince(raw, NOW)).toBeUndefined();
  });
});

describe('parseFilter', () => {
  it('reads every field; unset and blank fields mean any', () => {
    expect(
      parseFilter(
        { stage: 'parser', reason: 'invalid_json', since: '1h', replayed: 'false', limit: '20' },
        NOW,
      ),
    ).toEqual({
      stage: 'parser',
      reason: 'invalid_json',
      since: new Date('2025-05-01T11:00:00.000Z'),
      replayed: false,
      limit: 20,
    });
    expect(parseFilter({ stage: ' ', reason: undefined }, NOW)).toEqual({});
  });

  it('lists every problem at once', () => {
    expect(
      problem(() =>
        parseFilter(
          { stage: 'parse', since: 'last week', replayed: 'yes', limit: '0', reason: 'Bad' },
          NOW,
        ),
      ),
    ).toBe(
      'invalid_filter: stage must be one of ingest, parser, resolver, restarter, dlq-manager (got "parse"); ' +
        'reason must be a snake_case code such as parse_error (got "Bad"); ' +
        'since must be an ISO 8601 time (2025-05-01T12:00:00Z) or a duration such as 30m, 1h, 7d (got "last week"); ' +
        'replayed must be true or false (got "yes"); ' +
        'limit must be an integer from 1 to 10000 (got "0")',
    );
  });

  it('from a query: unknown and repeated parameters are problems', () => {
    expect(filterFromQuery(new URLSearchParams('stage=resolver&replayed=true'), NOW)).toEqual({
      stage: 'resolver',
      replayed: true,
    });
    expect(problem(() => filterFromQuery(new URLSearchParams('stage=parser&state=x'), NOW))).toBe(
      'invalid_filter: unknown filter state (use stage, cluster, reason, since, replayed, limit)',
    );
    expect(
      problem(() => filterFromQuery(new URLSearchParams('stage=parser&stage=resolver'), NOW)),
    ).toBe('invalid_filter: stage given more than once');
  });
});

describe('matches', () => {
  const entry = {
    stage: 'parser',
    reason: 'invalid_json',
    lastFailedAt: '2025-05-01T11:30:00.000Z',
  };

  it.each([
    [{}, true],
    [{ stage: 'parser' as const }, true],
    [{ stage: 'resolver' as const }, false],
    [{ reason: 'invalid_json' }, true],
    [{ reason: 'max_deliveries' }, false],
    [{ since: new Date('2025-05-01T11:30:00.000Z') }, true],
    [{ since: new Date('2025-05-01T11:30:00.001Z') }, false],
    [{ replayed: false }, true],
    [{ replayed: true }, false],
    [
      { stage: 'parser' as const, reason: 'invalid_json', since: new Date('2025-05-01T00:00:00Z') },
      true,
    ],
  ])('%j → %s', (filter, expected) => {
    expect(matches(entry, filter)).toBe(expected);
  });

  it("cluster selects a fleet cluster's letters; the hub's own have none", () => {
    expect(matches({ ...entry, cluster: 'prod-a' }, { cluster: 'prod-a' })).toBe(true);
    expect(matches({ ...entry, cluster: 'prod-b' }, { cluster: 'prod-a' })).toBe(false);
    expect(matches(entry, { cluster: 'prod-a' })).toBe(false);
    expect(isSelective({ cluster: 'prod-a' })).toBe(true);
    expect(parseFilter({ cluster: 'prod-a' }, NOW)).toEqual({ cluster: 'prod-a' });
    expect(problem(() => parseFilter({ cluster: 'Prod A' }, NOW))).toMatch(/cluster must be/);
  });

  it('replayed means a replay was recorded', () => {
    const replayed = { ...entry, replayedAt: '2025-05-01T11:45:00.000Z' };
    expect(matches(replayed, { replayed: true })).toBe(true);
    expect(matches(replayed, { replayed: false })).toBe(false);
  });
});

describe('isSelective and describeFilter', () => {
  it('a limit alone selects everything', () => {
    expect(isSelective({ limit: 5 })).toBe(false);
    expect(isSelective({ replayed: false })).toBe(true);
    expect(describeFilter({})).toBe('all entries');
    expect(describeFilter({ stage: 'parser', since: NOW, limit: 5 })).toBe(
      'stage=parser since=2025-05-01T12:00:00.000Z limit=5',
    );
  });
});
