import { describe, expect, it } from 'vitest';
import { ContractError, decode } from './codec.js';
import {
  DeadLetterSchema,
  ImagePushedSchema,
  OutcomeSchema,
  RestartRequestSchema,
  encode,
  parseDeadLetter,
  parseImagePushed,
  parseOutcome,
  parseRestartRequest,
  payloadBytes,
  toPayload,
} from './messages.js';
import type { DeadLetter, ImagePushed, Outcome, RestartRequest } from './messages.js';
import { FATES, ROLLOUT_FATES, isAccountingFate } from './subjects.js';

const D = 'sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855';
const AT = '2025-01-02T03:04:05.678Z';

// Optional fields are omitted, not set to undefined: exactOptionalPropertyTypes holds.
const pushed: ImagePushed = {
  v: 1,
  id: 'gar:1234567890',
  source: 'gar',
  image: 'us-west1-docker.pkg.dev/my-project/my-repo/hello-world',
  registry: 'us-west1-docker.pkg.dev',
  repository: 'my-project/my-repo/hello-world',
  tag: '1.1',
  receivedAt: AT,
};

const restart: RestartRequest = {
  v: 1,
  eventId: 'gar:1234567890',
  image: 'docker.io/library/nginx',
  tag: '1.25',
  digest: D,
  workload: { kind: 'Deployment', namespace: 'shop', name: 'web', containers: ['nginx'] },
};

const restarted: Outcome = {
  v: 1,
  eventId: 'gar:1234567890',
  fate: 'restarted',
  stage: 'restarter',
  workload: { kind: 'Deployment', namespace: 'shop', name: 'web' },
  durationMs: 12.5,
  at: AT,
};

const original = new TextEncoder().encode('{"action":"INSERT"');
const dead: DeadLetter = {
  v: 1,
  id: 'ONPUSH:42',
  stage: 'parser',
  reason: 'invalid_json',
  error: 'Unexpected end of JSON input',
  attempts: 1,
  subject: 'onpush.raw.gar',
  headers: { 'Nats-Msg-Id': 'gar:1', 'Onpush-Transport-x-a': ['1', '2'] },
  payload: toPayload(original),
  firstFailedAt: AT,
  lastFailedAt: AT,
};

function without<T extends object>(value: T, key: keyof T): Partial<T> {
  const copy: Partial<T> = { ...value };
  delete copy[key];
  return copy;
}

function failure(run: () => unknown): ContractError {
  try {
    run();
  } catch (error) {
    if (error instanceof ContractError) return error;
    throw error;
  }
  throw new Error('expected a ContractError');
}

const parsers = [
  ['ImagePushed', parseImagePushed, pushed],
  ['RestartRequest', parseRestartRequest, restart],
  ['Outcome', parseOutcome, restarted],
  ['DeadLetter', parseDeadLetter, dead],
] as const;

describe.each(parsers)('%s', (kind, parse, valid) => {
  it('round-trips through encode and parse', () => {
    expect(parse(encode(valid))).toStrictEqual(valid);
  });

  it('accepts JSON text and parsed values', () => {
    expect(parse(JSON.stringify(valid))).toStrictEqual(valid);
    expect(parse(structuredClone(valid))).toStrictEqual(valid);
  });

  it('requires the v field', () => {
    const error = failure(() => parse(without(valid, 'v')));
    expect(error).toMatchObject({ type: 'invalid_message', kind, retryable: false });
    expect(error.message).toMatch(new RegExp(`^invalid ${kind}: v: `));
  });

  it('rejects another version', () => {
    expect(failure(() => parse({ ...valid, v: 2 })).issues[0]?.path).toBe('v');
  });

  it('strips unknown fields instead of failing', () => {
    expect(parse({ ...valid, addedLater: true })).toStrictEqual(valid);
  });

  it('reports bytes that are not JSON as invalid_json', () => {
    const error = failure(() => parse(new TextEncoder().encode('{"v":1')));
    expect(error).toMatchObject({ name: 'ContractError', type: 'invalid_json', retryable: false });
    expect(error.cause).toBeInstanceOf(SyntaxError);
  });
});

describe('ImagePushed', () => {
  it('accepts a digest-only push with optional pushedAt', () => {
    const byDigest = {
      ...without(pushed, 'tag'),
      digest: D,
      pushedAt: '2025-01-02T03:04:05+01:00',
    };
    expect(parseImagePushed(byDigest)).toStrictEqual(byDigest);
  });

  it.each([
    ['a non-normalized image', { image: 'nginx' }, 'image'],
    ['an image that is not registry/repository', { registry: 'gcr.io' }, 'image'],
    ['a bad tag', { tag: 'a b' }, 'tag'],
    ['a truncated digest', { digest: 'sha256:6ec128e26cd5...' }, 'digest'],
    ['a source that is not a subject token', { source: 'a.b' }, 'source'],
    ['a receivedAt that is not ISO 8601', { receivedAt: 'yesterday' }, 'receivedAt'],
  ])('rejects %s', (_, change, path) => {
    const error = failure(() => parseImagePushed({ ...pushed, ...change }));
    expect(error.issues.map((issue) => issue.path)).toContain(path);
  });

  it('requires a tag or a digest', () => {
    expect(failure(() => parseImagePushed(without(pushed, 'tag'))).message).toContain(
      'tag: a tag or a digest is required',
    );
  });

  it('lists every issue in the message', () => {
    const error = failure(() => parseImagePushed({ v: 1, id: '', source: 'gar' }));
    const paths = error.issues.map((issue) => issue.path);
    expect(paths).toEqual(
      expect.arrayContaining(['id', 'image', 'registry', 'repository', 'receivedAt']),
    );
    for (const path of paths) expect(error.message).toContain(`${path}: `);
  });
});

describe('RestartRequest', () => {
  it.each([
    ['an unknown kind', { kind: 'Job' }, 'workload.kind'],
    ['a namespace that is not a DNS label', { namespace: 'Shop' }, 'workload.namespace'],
    ['no containers', { containers: [] }, 'workload.containers'],
  ])('rejects %s', (_, change, path) => {
    const workload = { ...restart.workload, ...change };
    const error = failure(() => parseRestartRequest({ ...restart, workload }));
    expect(error.issues.map((issue) => issue.path)).toContain(path);
  });

  it('accepts every workload kind', () => {
    for (const kind of ['Deployment', 'StatefulSet', 'DaemonSet', 'CronJob', 'Rollout'] as const) {
      const request = { ...restart, workload: { ...restart.workload, kind } };
      expect(parseRestartRequest(request).workload.kind).toBe(kind);
    }
  });
});

describe('Outcome', () => {
  it('accepts event fates without a workload', () => {
    const ignored = {
      v: 1,
      eventId: 'e',
      fate: 'ignored',
      stage: 'parser',
      reason: 'delete',
      at: AT,
    };
    expect(parseOutcome(ignored)).toStrictEqual(ignored);
    const dispatched = { ...ignored, fate: 'dispatched', stage: 'resolver', requests: 3 };
    expect(parseOutcome(dispatched)).toStrictEqual(dispatched);
  });

  it('accepts dead with or without a workload', () => {
    expect(parseOutcome({ ...restarted, fate: 'dead' }).fate).toBe('dead');
    expect(parseOutcome({ ...without(restarted, 'workload'), fate: 'dead' }).fate).toBe('dead');
  });

  it('requires a workload for a workload fate and none for an event fate', () => {
    expect(failure(() => parseOutcome(without(restarted, 'workload'))).issues[0]?.path).toBe(
      'workload',
    );
    expect(failure(() => parseOutcome({ ...restarted, fate: 'no-match' })).issues[0]?.path).toBe(
      'workload',
    );
  });

  it('names the workload of a dry run and of a rollout outcome, which accounts for nothing', () => {
    for (const fate of [
      'would-restart',
      'refused',
      'rollout-completed',
      'rollout-failed',
    ] as const) {
      expect(parseOutcome({ ...restarted, fate, durationMs: 1_500 }).fate).toBe(fate);
      expect(
        failure(() => parseOutcome({ ...without(restarted, 'workload'), fate })).issues[0]?.path,
      ).toBe('workload');
    }
    expect(isAccountingFate('would-restart')).toBe(true);
    expect(isAccountingFate('refused')).toBe(true);
    expect(isAccountingFate('rollout-completed')).toBe(false);
    expect(isAccountingFate('rollout-failed')).toBe(false);
    expect(ROLLOUT_FATES.every((fate) => FATES.includes(fate))).toBe(true);
  });

  it('rejects an unknown fate, stage or reason code', () => {
    const error = failure(() =>
      parseOutcome({ ...restarted, fate: 'lost', stage: 'ingester', reason: 'Not A Code' }),
    );
    expect(error.issues.map((issue) => issue.path).sort()).toEqual(['fate', 'reason', 'stage']);
  });
});

describe('DeadLetter', () => {
  it('keeps the original bytes', () => {
    expect(payloadBytes(parseDeadLetter(encode(dead)))).toStrictEqual(original);
  });

  it('accepts replay fields', () => {
    const replayed = { ...dead, replayedAt: AT, replayOf: 'ONPUSH:41', traceId: 'a'.repeat(32) };
    expect(parseDeadLetter(replayed)).toStrictEqual(replayed);
  });

  it.each([
    ['a payload that is not base64', { payload: 'not base64!' }, 'payload'],
    ['zero attempts', { attempts: 0 }, 'attempts'],
    ['headers with numbers', { headers: { a: 1 } }, 'headers.a'],
    ['a bad trace id', { traceId: 'xyz' }, 'traceId'],
  ])('rejects %s', (_, change, path) => {
    const error = failure(() => parseDeadLetter({ ...dead, ...change }));
    expect(error.issues.map((issue) => issue.path)).toContain(path);
  });
});

describe('decode', () => {
  it('returns a result instead of throwing', () => {
    expect(decode(RestartRequestSchema, encode(restart), 'RestartRequest')).toStrictEqual({
      ok: true,
      value: restart,
    });
    const bad = decode(OutcomeSchema, new Uint8Array([0xff, 0xfe]), 'Outcome');
    expect(bad.ok ? undefined : bad.error.type).toBe('invalid_json');
  });

  it('names the root when the message is not an object', () => {
    const bad = decode(DeadLetterSchema, '[]', 'DeadLetter');
    expect(bad.ok ? undefined : bad.error.message).toMatch(/^invalid DeadLetter: \(root\): /);
    expect(decode(ImagePushedSchema, null).ok).toBe(false);
  });
});

describe('RestartRequest.observed', () => {
  const observed = {
    resourceVersion: '4711',
    marks: { 'onpush.dev/digest': D },
    settings: { 'onpush.dev/cooldown': '5m' },
    containers: [{ name: 'nginx', image: 'nginx:1.25', init: false }],
  };

  it('carries the watch view of the workload when given', () => {
    const withView = { ...restart, observed };
    expect(parseRestartRequest(withView)).toStrictEqual(withView);
  });

  it('rejects a view without resourceVersion or with malformed containers', () => {
    const noVersion = { ...restart, observed: without(observed, 'resourceVersion') };
    expect(failure(() => parseRestartRequest(noVersion)).issues[0]?.path).toBe(
      'observed.resourceVersion',
    );
    const badContainers = { ...restart, observed: { ...observed, containers: [{ name: 'x' }] } };
    expect(failure(() => parseRestartRequest(badContainers)).issues[0]?.path).toMatch(
      /^observed\.containers\.0\./,
    );
  });
});
