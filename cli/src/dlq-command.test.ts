import { describe, expect, it } from 'vitest';
import { DlqError, type DlqEntry, type DlqFilter, type DlqStore } from '@onpush/dlq';
import {
  dlqCommand,
  formatEntry,
  formatPayload,
  formatTable,
  parseDlqRequest,
  runDlq,
  type DlqOptions,
} from './dlq-command.js';
import type { Output } from './output.js';

const NOW = new Date('2025-05-01T12:00:00.000Z');
const base: DlqOptions = { natsUrl: 'nats://127.0.0.1:1', json: false };

function entry(id: number, overrides: Partial<DlqEntry> = {}): DlqEntry {
  return {
    id,
    stage: 'parser',
    reason: 'invalid_json',
    error: 'body is not JSON',
    attempts: 1,
    subject: 'onpush.raw.gar',
    firstFailedAt: '2025-05-01T11:00:00.000Z',
    lastFailedAt: '2025-05-01T11:00:00.000Z',
    storedAt: '2025-05-01T11:00:00.001Z',
    replayCount: 0,
    valid: true,
    headers: { 'Onpush-Source': 'gar' },
    payload: Buffer.from('{oops').toString('base64'),
    ...overrides,
  };
}

function capture(): Output & { lines: string[]; errors: string[]; results: unknown[] } {
  const lines: string[] = [];
  const errors: string[] = [];
  const results: unknown[] = [];
  return {
    lines,
    errors,
    results,
    info: (l) => lines.push(l),
    error: (l) => errors.push(l),
    result: (v) => results.push(v),
  };
}

/** Records the calls; answers like a store holding entries 1 and 2. */
function fakeStore(calls: string[]): DlqStore {
  const entries = [
    entry(1),
    entry(2, { stage: 'resolver', replayedAt: '2025-05-01T11:30:00.000Z', replayCount: 1 }),
  ];
  const describe = (f: DlqFilter) => JSON.stringify({ ...f, since: f.since?.toISOString() });
  const replayed = (id: number) => ({
    replayed: id,
    subject: 'onpush.raw.gar',
    msgId: `onpush.raw.gar|replay:${id}:1`,
    stream: 'ONPUSH',
    seq: 10 + id,
    duplicate: false,
    replayedAt: NOW.toISOString(),
    count: 1,
  });
  return {
    list: (f = {}) => (
      calls.push(`list ${describe(f)}`),
      Promise.resolve({ entries, truncated: true })
    ),
    get: (id) =>
      id === 1
        ? Promise.resolve(entries[0]!)
        : Promise.reject(new DlqError('not_found', `no dead letter ${id} in ONPUSH_DLQ`)),
    replay: (id) => (calls.push(`replay ${id}`), Promise.resolve(replayed(id))),
    replayMatching: (f) => (
      calls.push(`replayMatching ${describe(f)}`),
      Promise.resolve({
        replayed: [replayed(1)],
        failed: [{ id: 2, type: 'not_replayable', error: 'not a DeadLetter' }],
      })
    ),
    purge: (id) => (calls.push(`purge ${id}`), Promise.resolve()),
    purgeMatching: (f) => (calls.push(`purgeMatching ${describe(f)}`), Promise.resolve([1, 2])),
    stats: () => Promise.resolve({ depth: 2, oldestAgeSeconds: 60 }),
  };
}

describe('parseDlqRequest', () => {
  it.each([
    ['ls', [], {}, { kind: 'ls', filter: {} }],
    [
      'ls',
      [],
      { stage: 'parser', since: '1h' },
      { kind: 'ls', filter: { stage: 'parser', since: new Date('2025-05-01T11:00:00.000Z') } },
    ],
    ['show', ['42'], {}, { kind: 'show', id: 42 }],
    ['replay', ['42'], {}, { kind: 'replay', id: 42 }],
    [
      'replay',
      [],
      { stage: 'resolver', reason: 'max_deliveries' },
      { kind: 'replay-matching', filter: { stage: 'resolver', reason: 'max_deliveries' } },
    ],
    ['purge', ['7'], {}, { kind: 'purge', id: 7 }],
    [
      'purge',
      [],
      { since: '2025-04-30' },
      { kind: 'purge-matching', filter: { since: new Date('2025-04-30T00:00:00.000Z') } },
    ],
  ] as const)('%s %j %j', (action, args, flags, expected) => {
    expect(parseDlqRequest(action, [...args], { ...base, ...flags }, NOW)).toEqual(expected);
  });

  it.each([
    [undefined, [], {}, 'missing action'],
    ['drop', [], {}, 'unknown action: drop'],
    ['show', [], {}, 'show needs an id'],
    ['show', ['x'], {}, 'invalid id "x": expected a DLQ sequence number such as 42'],
    ['replay', [], {}, 'replay needs an id, or --stage, --cluster, --reason or --since'],
    ['purge', ['3'], { stage: 'parser' }, 'purge: give an id or filters, not both'],
    ['ls', ['3'], {}, 'ls takes filters, not an id (got 3)'],
    ['replay', ['1', '2'], {}, 'unexpected arguments: 2'],
    [
      'ls',
      [],
      { stage: 'parsr' },
      'stage must be one of ingest, parser, resolver, restarter, dlq-manager (got "parsr")',
    ],
  ] as const)('%s %j %j: %s', (action, args, flags, message) => {
    expect(() => parseDlqRequest(action, [...args], { ...base, ...flags }, NOW)).toThrow(message);
  });
});

describe('dlqCommand', () => {
  it('prints the usage and exits 2 on a bad command line, before connecting', async () => {
    const out = capture();
    expect(await dlqCommand('replay', [], base, out)).toBe(2);
    expect(out.errors[0]).toMatch(/^onpush dlq: replay needs an id[^]*usage:/);
  });
});

describe('runDlq', () => {
  it('ls prints a table, notes truncation, and gives summaries as JSON', async () => {
    const calls: string[] = [];
    const out = capture();
    expect(await runDlq(fakeStore(calls), { kind: 'ls', filter: { stage: 'parser' } }, out)).toBe(
      0,
    );
    expect(calls).toEqual(['list {"stage":"parser"}']);
    expect(out.lines[0]!.split('\n')).toEqual([
      'ID  STAGE     REASON        ATTEMPTS  LAST FAILED               REPLAYED',
      '1   parser    invalid_json  1         2025-05-01T11:00:00.000Z  -',
      '2   resolver  invalid_json  1         2025-05-01T11:00:00.000Z  2025-05-01T11:30:00.000Z',
    ]);
    expect(out.lines[1]).toMatch(/more entries match/);
    expect(out.results).toEqual([
      {
        entries: [expect.objectContaining({ id: 1 }), expect.objectContaining({ id: 2 })],
        truncated: true,
      },
    ]);
    expect(JSON.stringify(out.results)).not.toContain('payload');
  });

  it('show prints the entry with its payload as text', async () => {
    const out = capture();
    expect(await runDlq(fakeStore([]), { kind: 'show', id: 1 }, out)).toBe(0);
    expect(out.lines[0]).toContain('reason       invalid_json');
    expect(out.lines[0]).toContain('  Onpush-Source: gar');
    expect(out.lines[0]).toMatch(/payload \(5 bytes\)\n\{oops$/);
    expect(out.results[0]).toMatchObject({
      id: 1,
      payload: Buffer.from('{oops').toString('base64'),
    });
  });

  it('an unknown id is the store’s not_found error', async () => {
    await expect(runDlq(fakeStore([]), { kind: 'show', id: 9 }, capture())).rejects.toMatchObject({
      type: 'not_found',
    });
  });

  it('replays and purges one entry or every match; a failed bulk replay exits 1', async () => {
    const calls: string[] = [];
    const store = fakeStore(calls);
    const out = capture();
    expect(await runDlq(store, { kind: 'replay', id: 1 }, out)).toBe(0);
    expect(out.lines).toEqual(['replayed 1 → onpush.raw.gar (msg id onpush.raw.gar|replay:1:1)']);
    expect(await runDlq(store, { kind: 'replay-matching', filter: { stage: 'parser' } }, out)).toBe(
      1,
    );
    expect(out.errors).toEqual(['not replayed 2: not a DeadLetter']);
    expect(await runDlq(store, { kind: 'purge', id: 1 }, out)).toBe(0);
    expect(
      await runDlq(store, { kind: 'purge-matching', filter: { reason: 'invalid_json' } }, out),
    ).toBe(0);
    expect(out.lines.at(-1)).toBe('purged 2 (reason=invalid_json): 1, 2');
    expect(calls).toEqual([
      'replay 1',
      'replayMatching {"stage":"parser"}',
      'purge 1',
      'purgeMatching {"reason":"invalid_json"}',
    ]);
    expect(out.results.at(-1)).toEqual({ purged: [1, 2] });
  });
});

describe('formatting', () => {
  it('shows binary payloads as base64', () => {
    expect(formatPayload(Buffer.from([0xff, 0x00]).toString('base64'))).toBe('(base64) /wA=');
    expect(formatPayload(Buffer.from('a\u0001b').toString('base64'))).toBe('(base64) YQFi');
    expect(formatPayload(Buffer.from('{"a":1}\n').toString('base64'))).toBe('{"a":1}\n');
  });

  it('a table has a header even when empty', () => {
    expect(formatTable([])).toBe('ID  STAGE  REASON  ATTEMPTS  LAST FAILED  REPLAYED');
  });
});

describe('a truncated entry', () => {
  const truncated = {
    originalBytes: 900_000,
    sha256: 'c'.repeat(64),
    keptBytes: 786_000,
    droppedHeaders: 2,
    reason:
      "the dead letter (1200400 bytes) would exceed the NATS server's max_payload of 1048576 bytes",
  };

  it('is marked in the list and shown with what was kept, the digest and why', () => {
    expect(formatTable([entry(3, { truncated })])).toContain('invalid_json (truncated)');
    const shown = formatEntry(entry(3, { truncated }));
    expect(shown).toContain('kept the first 786000 of 900000 bytes, left out 2 headers');
    expect(shown).toContain("would exceed the NATS server's max_payload of 1048576 bytes");
    expect(shown).toContain(`sha256       ${'c'.repeat(64)}`);
    expect(shown).toContain('(truncated: it can be purged, not replayed)');
    expect(shown).toContain('payload (the first 5 of 900000 bytes)');
    expect(formatEntry(entry(4))).not.toContain('truncated');
  });
});
