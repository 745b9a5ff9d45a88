import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { createActor, fromPromise, toPromise } from 'xstate';
import { ANNOTATIONS, KubeApiError } from '@onpush/kube';
import { describeFailure } from '@onpush/service';
import {
  alreadyRestarted,
  conflictDelayMs,
  restartMachine,
  supersededBy,
  type PatchInput,
  type RestartEffects,
  type RestartInput,
  type RestartOutput,
  type TemplateAnnotations,
  type WorkloadSnapshot,
} from './machine.js';
import { restartScope } from './decide.js';

const DIGEST = `sha256:${'a'.repeat(64)}`;
const OTHER = `sha256:${'b'.repeat(64)}`;
const RESPONDED = new Date('2026-11-26T10:00:01.250Z');
const input: RestartInput = {
  workload: { kind: 'Deployment', namespace: 'shop', name: 'web' },
  eventId: 'evt-2',
  digest: DIGEST,
};

type Answer<T> = T | Error;

/**
 * A workload whose GETs answer `reads` in turn (the last one repeats) and whose PATCHes answer
 * `patches` in turn (then succeed). Records what was patched.
 */
function effects(reads: Answer<TemplateAnnotations>[], patches: (Error | undefined)[] = []) {
  const sent: PatchInput[] = [];
  let version = 0;
  const fake: RestartEffects = {
    read: () => {
      const answer = reads.length > 1 ? reads.shift() : reads[0];
      if (answer instanceof Error) return Promise.reject(answer);
      return Promise.resolve({ annotations: answer ?? {}, resourceVersion: String(++version) });
    },
    patch: (_workload, patch) => {
      sent.push(patch);
      const error = patches.shift();
      return error ? Promise.reject(error) : Promise.resolve({ respondedAt: RESPONDED });
    },
  };
  return { fake, sent };
}

function run(fake: RestartEffects, restart: RestartInput = input): Promise<RestartOutput> {
  const machine = restartMachine.provide({
    actors: {
      read: fromPromise(({ input: i }) => fake.read(i.workload)),
      patch: fromPromise(({ input: i }) => fake.patch(i.workload, i.patch)),
    },
  });
  return toPromise(createActor(machine, { input: restart }).start());
}

async function failure(fake: RestartEffects) {
  const output = await run(fake);
  if (output.fate !== 'failed') throw new Error(`expected a failure, got ${output.fate}`);
  return describeFailure(output.error);
}

const apiError = (status: number, message = `HTTP ${status}`, retryAfterMs?: number) =>
  new KubeApiError(message, { status, retryAfterMs });

describe('restartMachine', () => {
  beforeEach(() => {
    vi.useFakeTimers();
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it('patches a workload without the digest, conditionally on the version read, and ends restarted at the response time', async () => {
    const { fake, sent } = effects([{ [ANNOTATIONS.digest]: OTHER }]);
    await expect(run(fake)).resolves.toEqual({ fate: 'restarted', respondedAt: RESPONDED });
    expect(sent).toEqual([{ eventId: 'evt-2', digest: DIGEST, resourceVersion: '1' }]);
  });

  it('ends unchanged without a PATCH when the pod template already carries the pushed digest', async () => {
    const { fake, sent } = effects([
      { [ANNOTATIONS.digest]: DIGEST, [ANNOTATIONS.eventId]: 'evt-1' },
    ]);
    await expect(run(fake)).resolves.toEqual({ fate: 'unchanged' });
    expect(sent).toEqual([]);
  });

  it('ends unchanged (superseded) without a PATCH when the template carries a later push', async () => {
    const later = { [ANNOTATIONS.digest]: OTHER, [ANNOTATIONS.pushedAt]: '2026-11-26T10:00:02Z' };
    const { fake, sent } = effects([later]);
    const older = { ...input, pushedAt: '2026-11-26T10:00:01Z' };
    await expect(run(fake, older)).resolves.toEqual({ fate: 'unchanged', reason: 'superseded' });
    expect(sent).toEqual([]);
    const { fake: again, sent: patched } = effects([later]);
    const newer = { ...input, pushedAt: '2026-11-26T10:00:03Z' };
    await expect(run(again, newer)).resolves.toMatchObject({ fate: 'restarted' });
    expect(patched[0]?.pushedAt).toBe('2026-11-26T10:00:03Z');
  });

  it('judges a push without digest by its event id', async () => {
    const tagOnly = { ...input, digest: undefined };
    const same = effects([{ [ANNOTATIONS.eventId]: 'evt-2' }]);
    await expect(run(same.fake, tagOnly)).resolves.toEqual({ fate: 'unchanged' });
    const other = effects([{ [ANNOTATIONS.eventId]: 'evt-1', [ANNOTATIONS.digest]: DIGEST }]);
    await expect(run(other.fake, tagOnly)).resolves.toMatchObject({ fate: 'restarted' });
    expect(other.sent).toEqual([{ eventId: 'evt-2', digest: undefined, resourceVersion: '1' }]);
  });

  it('ends gone when GET or PATCH answers 404', async () => {
    const notFound = apiError(404, 'deployments.apps "web" not found');
    await expect(run(effects([notFound]).fake)).resolves.toEqual({ fate: 'gone' });
    await expect(run(effects([{}], [notFound]).fake)).resolves.toEqual({ fate: 'gone' });
  });

  it('reads again after a 409 and ends unchanged when a concurrent restart already applied the digest', async () => {
    const { fake, sent } = effects([{}, { [ANNOTATIONS.digest]: DIGEST }], [apiError(409)]);
    const done = run(fake);
    await vi.advanceTimersByTimeAsync(conflictDelayMs(1));
    await expect(done).resolves.toEqual({ fate: 'unchanged' });
    expect(sent).toHaveLength(1);
  });

  it('reads and patches again after a 409 caused by an unrelated change', async () => {
    const { fake, sent } = effects([{}], [apiError(409)]);
    const done = run(fake);
    await vi.advanceTimersByTimeAsync(conflictDelayMs(1));
    await expect(done).resolves.toMatchObject({ fate: 'restarted' });
    expect(sent.map((p) => p.resourceVersion)).toEqual(['1', '2']);
  });

  it('gives a persistent conflict to the broker as retryable http_409 after three re-reads', async () => {
    const conflicts = [apiError(409), apiError(409), apiError(409), apiError(409)];
    const { fake, sent } = effects([{}], conflicts);
    const done = failure(fake);
    await vi.advanceTimersByTimeAsync(10 + 20 + 40);
    await expect(done).resolves.toMatchObject({ type: 'http_409', retryable: true });
    expect(sent).toHaveLength(4);
  });

  it('fails permanently on 403 with type http_403 and the API message', async () => {
    const forbidden = apiError(403, 'deployments.apps "web" is forbidden');
    await expect(failure(effects([{}], [forbidden]).fake)).resolves.toEqual({
      type: 'http_403',
      message: 'deployments.apps "web" is forbidden',
      retryable: false,
      retryAfterMs: undefined,
    });
  });

  it.each([401, 422])('fails permanently on %i', async (status) => {
    await expect(failure(effects([{}], [apiError(status)]).fake)).resolves.toMatchObject({
      type: `http_${status}`,
      retryable: false,
    });
  });

  it('fails retryably on 429 and carries Retry-After', async () => {
    const throttled = apiError(429, 'too many requests', 3_000);
    await expect(failure(effects([throttled]).fake)).resolves.toMatchObject({
      type: 'http_429',
      retryable: true,
      retryAfterMs: 3_000,
    });
  });

  it.each([500, 503])('fails retryably on %i', async (status) => {
    await expect(failure(effects([{}], [apiError(status)]).fake)).resolves.toMatchObject({
      type: `http_${status}`,
      retryable: true,
    });
  });

  it('fails retryably when the API server cannot be reached', async () => {
    const unreachable = new KubeApiError('connect ECONNREFUSED 127.0.0.1:6443', {});
    await expect(failure(effects([unreachable]).fake)).resolves.toMatchObject({
      type: 'network',
      retryable: true,
    });
  });
});

describe("restartMachine with the resolver's view of the workload", () => {
  const view = (annotations: TemplateAnnotations, settings: TemplateAnnotations = {}) => ({
    annotations,
    settings,
    resourceVersion: 'w7',
    containers: [{ name: 'app', image: 'example.com/web:1.0', init: false }],
  });
  const counting = (reads: Answer<TemplateAnnotations>[], patches: (Error | undefined)[] = []) => {
    const { fake, sent } = effects(reads, patches);
    let gets = 0;
    const counted: RestartEffects = {
      read: (workload) => {
        gets += 1;
        return fake.read(workload);
      },
      patch: (workload, patch) => fake.patch(workload, patch),
    };
    return { fake: counted, sent, gets: () => gets };
  };

  it('patches at once, conditionally on the version the watch saw, without a GET', async () => {
    const { fake, sent, gets } = counting([{}]);
    const observed = view({ [ANNOTATIONS.digest]: OTHER });
    await expect(run(fake, { ...input, observed })).resolves.toMatchObject({ fate: 'restarted' });
    expect(gets()).toBe(0);
    expect(sent).toEqual([{ eventId: 'evt-2', digest: DIGEST, resourceVersion: 'w7' }]);
  });

  it('reads and patches on the fresh version when the view was stale (409), with no conflict delay', async () => {
    const { fake, sent, gets } = counting([{ [ANNOTATIONS.digest]: OTHER }], [apiError(409)]);
    const observed = view({ [ANNOTATIONS.digest]: OTHER });
    await expect(run(fake, { ...input, observed })).resolves.toMatchObject({ fate: 'restarted' });
    expect(gets()).toBe(1);
    expect(sent.map((p) => p.resourceVersion)).toEqual(['w7', '1']);
  });

  it('ends unchanged after a stale view only when the GET confirms a concurrent restart applied the digest', async () => {
    const { fake, sent } = counting([{ [ANNOTATIONS.digest]: DIGEST }], [apiError(409)]);
    await expect(run(fake, { ...input, observed: view({}) })).resolves.toEqual({
      fate: 'unchanged',
    });
    expect(sent).toHaveLength(1);
  });

  it('confirms with a GET before ending unchanged on the view (a stale view may hide a newer push)', async () => {
    // The view says the digest is applied; the API server says another digest was applied since.
    const { fake, sent, gets } = counting([{ [ANNOTATIONS.digest]: OTHER }]);
    const observed = view({ [ANNOTATIONS.digest]: DIGEST });
    await expect(run(fake, { ...input, observed })).resolves.toMatchObject({ fate: 'restarted' });
    expect(gets()).toBe(1);
    expect(sent.map((p) => p.resourceVersion)).toEqual(['1']);
  });

  it('confirms with a GET before a dry run or an image change decided on the view', async () => {
    const dry = counting([{}]);
    const dryView = view({}, { [ANNOTATIONS.dryRun]: 'true' });
    await expect(run(dry.fake, { ...input, observed: dryView })).resolves.toMatchObject({
      fate: 'restarted',
    });
    expect(dry.gets()).toBe(1);
    const pinned = counting([{}]);
    const pinView = view({}, { [ANNOTATIONS.policy]: 'pin' });
    const pinInput = { ...input, image: 'example.com/web', tag: '1.0', observed: pinView };
    await run(pinned.fake, pinInput);
    expect(pinned.gets()).toBe(1);
  });

  it('ends gone on a 404 to the PATCH made on the view', async () => {
    const { fake, gets } = counting([{}], [apiError(404)]);
    await expect(run(fake, { ...input, observed: view({}) })).resolves.toEqual({ fate: 'gone' });
    expect(gets()).toBe(0);
  });
});

describe('alreadyRestarted', () => {
  it('compares digests when the push has one, event ids otherwise', () => {
    expect(
      alreadyRestarted({ [ANNOTATIONS.digest]: DIGEST }, { eventId: 'x', digest: DIGEST }),
    ).toBe(true);
    expect(alreadyRestarted({ [ANNOTATIONS.eventId]: 'x' }, { eventId: 'x', digest: DIGEST })).toBe(
      false,
    );
    expect(alreadyRestarted({ [ANNOTATIONS.eventId]: 'x' }, { eventId: 'x' })).toBe(true);
    expect(alreadyRestarted({}, { eventId: 'x' })).toBe(false);
  });
});

describe('conflictDelayMs', () => {
  it('doubles from 10 ms', () => {
    expect([1, 2, 3].map(conflictDelayMs)).toEqual([10, 20, 40]);
  });
});

describe('supersededBy', () => {
  const carried = { [ANNOTATIONS.pushedAt]: '2026-11-26T10:00:02.000Z' };
  it.each([
    ['an older push', carried, '2026-11-26T10:00:01.000Z', true],
    ['the same push time', carried, '2026-11-26T10:00:02.000Z', false],
    ['a newer push', carried, '2026-11-26T10:00:03.000Z', false],
    ['a push without time', carried, undefined, false],
    ['a template without pushed-at', {}, '2026-11-26T10:00:01.000Z', false],
  ] as const)('%s → %s', (_, annotations, pushedAt, expected) => {
    expect(supersededBy(annotations, { eventId: 'e', pushedAt })).toBe(expected);
  });
});

describe('restartMachine: the scope, checked on the object before any PATCH', () => {
  const scope = restartScope({
    select: 'labelled',
    optIn: 'label',
    namespaces: ['shop'],
    exclude: [],
  });
  const scoped: RestartInput = { ...input, scope, image: 'example.com/web', containers: ['app'] };
  const object = (labels: Record<string, string>): WorkloadSnapshot => ({
    annotations: {},
    resourceVersion: '5',
    settings: {},
    labels,
    containers: [{ name: 'app', image: 'example.com/web:1.0', init: false }],
  });
  const OPTED_IN = { 'onpush.dev/enabled': 'true' };

  function api(read: WorkloadSnapshot) {
    const calls: string[] = [];
    const fake: RestartEffects = {
      read: () => {
        calls.push('get');
        return Promise.resolve(read);
      },
      patch: () => {
        calls.push('patch');
        return Promise.resolve({ respondedAt: RESPONDED });
      },
    };
    return { fake, calls };
  }

  it('refuses a namespace out of the scope without any API call', async () => {
    const { fake, calls } = api(object(OPTED_IN));
    const system = { ...scoped.workload, namespace: 'kube-system' };
    await expect(run(fake, { ...scoped, workload: system })).resolves.toMatchObject({
      fate: 'refused',
      reason: 'namespace_out_of_scope',
    });
    expect(calls).toEqual([]);
  });

  it('refuses on the GET a workload that did not opt in; patches one that did', async () => {
    const refused = api(object({}));
    await expect(run(refused.fake, scoped)).resolves.toMatchObject({
      fate: 'refused',
      reason: 'not_opted_in',
    });
    expect(refused.calls).toEqual(['get']);
    const allowed = api(object(OPTED_IN));
    await expect(run(allowed.fake, scoped)).resolves.toMatchObject({ fate: 'restarted' });
    expect(allowed.calls).toEqual(['get', 'patch']);
  });

  it('confirms a refusal decided on the view with a GET (the view may be stale or carry no labels)', async () => {
    const { fake, calls } = api(object({}));
    const observed = { ...object(OPTED_IN), labels: undefined, resourceVersion: 'w1' };
    await expect(run(fake, { ...scoped, observed })).resolves.toMatchObject({
      fate: 'refused',
      reason: 'not_opted_in',
    });
    expect(calls).toEqual(['get']);
  });

  it('refuses a request whose container runs another repository', async () => {
    const { fake, calls } = api(object(OPTED_IN));
    await expect(run(fake, { ...scoped, image: 'example.com/other' })).resolves.toMatchObject({
      fate: 'refused',
      reason: 'repository_mismatch',
    });
    expect(calls).toEqual(['get']);
  });
});
