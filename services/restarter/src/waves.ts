// Staged rollouts (`onpush.dev/wave`): for one push, the requests of wave n wait until every
// workload of the wave before it settled — restarted and its rollout finished healthy, or ended
// without a rollout (already on the digest, gone, refused) — and stayed healthy for the wave's soak
// (`onpush.dev/soak`, the longest of the wave). A failed rollout halts every later wave of that push.
//
// All of it lives in a JetStream KV bucket the replicas share (BUCKETS.restarterWaves), nothing in
// a process: each request of a wave records how it settled (its own key), and the wave's gate
// (one key per push and wave) says waiting, open or halted. A waiting request is held (NAKed, or
// put back on onpush.restart.held.<namespace> when it has waited long) and asks again; of the
// replicas asking at once, the one that wins the compare-and-set of `checkedAt` judges — it reads
// each rolling workload from the API server, as `kubectl rollout status` judges it — and writes
// the verdict for the others. So a kill -9 of any replica, or of nats-server, loses nothing: the
// next request to ask judges again from what the bucket and the API server say.
import { z } from 'zod';
import { BUCKETS, WORKLOAD_KINDS, type RestartRequest, type WorkloadRef } from '@onpush/contracts';
import {
  casUpdate,
  kvKey,
  lazyBucket,
  lazyCasStore,
  type CasStore,
  type JetStreamClient,
} from '@onpush/nats';
import { inNamespace, type ByNamespace } from './by-namespace.js';
import type { ReadRollout } from './rollout/read.js';
import { rolloutState } from './rollout/status.js';

export type { ReadRollout } from './rollout/read.js';

const WorkloadRefShape = z.object({
  kind: z.enum(WORKLOAD_KINDS),
  namespace: z.string(),
  name: z.string(),
});

/** How one workload of a wave settled, for one push (with the workload, to read it again). */
export const SettledSchema = z.discriminatedUnion('state', [
  /** Restarted at `since`; its rollout is judged against `generation`. */
  z.object({
    state: z.literal('rolling'),
    workload: WorkloadRefShape,
    since: z.string(),
    generation: z.number().int().nonnegative(),
  }),
  /** Its rollout finished (or there was none to wait for: `generation` absent). */
  z.object({
    state: z.literal('healthy'),
    workload: WorkloadRefShape,
    generation: z.number().int().nonnegative().optional(),
    soakMs: z.number().nonnegative().optional(),
    detail: z.string(),
  }),
  z.object({ state: z.literal('failed'), workload: WorkloadRefShape, detail: z.string() }),
  /** Not restarted: an earlier wave failed. */
  z.object({ state: z.literal('halted'), workload: WorkloadRefShape, detail: z.string() }),
]);
export type Settled = z.infer<typeof SettledSchema>;

export const GateSchema = z.discriminatedUnion('state', [
  z.object({
    state: z.literal('waiting'),
    /** When a request first asked (the wave's deadline runs from it). */
    since: z.string(),
    /** When the gate was last judged (the lease: others wait RECHECK_MS from it). */
    checkedAt: z.string(),
    /** When every workload of the wave was first seen healthy (the soak runs from it). */
    healthySince: z.string().optional(),
    detail: z.string(),
  }),
  z.object({ state: z.literal('open'), at: z.string(), detail: z.string() }),
  z.object({
    state: z.literal('halted'),
    at: z.string(),
    reason: z.enum(['wave_failed', 'wave_timeout']),
    detail: z.string(),
  }),
]);
export type Gate = z.infer<typeof GateSchema>;

/** How every workload of one wave of one push settled so far, by `kind/namespace/name`. */
export const SettlementsSchema = z.record(z.string(), SettledSchema);
export type Settlements = z.infer<typeof SettlementsSchema>;

/**
 * Where each wave's settlements (one key per push and wave: no listing, which would need a
 * consumer the restarter may not create) and gates are kept: a KV bucket, or maps in tests.
 */
export interface WaveStore {
  settlements: CasStore<Settlements>;
  gates: CasStore<Gate>;
}

/** Why a request is halted: a workload of an earlier wave failed (or was halted), or it never settled. */
export type HaltReason = 'wave_failed' | 'wave_timeout';

export type Verdict =
  | { readonly state: 'open'; readonly detail: string }
  | { readonly state: 'halted'; readonly reason: HaltReason; readonly detail: string }
  | { readonly state: 'waiting'; readonly detail: string; readonly recheckMs: number };

/** What a wave's gate decided, once: the wave waited for, since when, and the verdict. */
export interface GateDecision {
  readonly eventId: string;
  /** The wave whose workloads were waited for. */
  readonly wave: number;
  /** When a request of the next wave first asked. */
  readonly since: Date;
  readonly at: Date;
  readonly state: 'open' | 'halted';
  readonly reason?: string;
  readonly detail: string;
}

export interface WavesOptions {
  store: WaveStore;
  readRollout: ReadRollout;
  /** A rollout not finished this long after its restart failed (ROLLOUT_TIMEOUT). */
  rolloutTimeoutMs: number;
  /** A wave whose workloads have not all settled this long after the first ask halts the rest (WAVE_TIMEOUT). */
  waveTimeoutMs: number;
  /** How long a verdict stands before it is judged again (the recheck period). */
  recheckMs?: number;
  /** The soak of a workload without `onpush.dev/soak` (SOAK, SOAK_NAMESPACES). */
  soaks?: ByNamespace<number>;
  now?: () => Date;
  /**
   * Told once per push and wave, by the replica whose compare-and-set wrote it, when the gate
   * opened or halted (its span); must not throw.
   */
  onDecided?: (decision: GateDecision) => void;
}

/** The waves of one push: the gate its requests ask, and the record of how each settled. */
export interface Waves {
  /** Whether `request` (of wave n) may go: the verdict on the wave before it. */
  gate(request: RestartRequest): Promise<Verdict>;
  /** Records how `request`'s workload settled, when a later wave of the push waits on it. */
  settle(request: RestartRequest, settled: Settled): Promise<void>;
}

const workloadName = (w: WorkloadRef): string => `${w.kind}/${w.namespace}/${w.name}`;

/** The wave before `request`'s, among the push's waves; undefined: it is not gated. */
export function previousWave(request: RestartRequest): number | undefined {
  const own = request.waves?.wave;
  if (own === undefined) return undefined;
  const earlier = Object.keys(request.waves?.sizes ?? {})
    .map(Number)
    .filter((w) => w < own);
  return earlier.length === 0 ? undefined : Math.max(...earlier);
}

/** True when a later wave of the push waits on `request`'s workload. */
export function gatesLater(request: RestartRequest): boolean {
  const own = request.waves?.wave;
  if (own === undefined) return false;
  return Object.keys(request.waves?.sizes ?? {}).some((w) => Number(w) > own);
}

const pushKey = (eventId: string, wave: number): string => `${kvKey(eventId)}.${wave}`;
const settlementsKey = (eventId: string, wave: number): string =>
  `${pushKey(eventId, wave)}.settled`;

const gateKey = (eventId: string, wave: number): string => `${pushKey(eventId, wave)}.gate`;

/** A settlement as it reads once its rollout is judged now (unchanged while still rolling). */
async function judged(
  settled: Settled,
  options: Pick<WavesOptions, 'readRollout' | 'rolloutTimeoutMs' | 'soaks'>,
  now: Date,
): Promise<Settled> {
  const { workload } = settled;
  const restarted =
    settled.state === 'rolling' ||
    (settled.state === 'healthy' && settled.generation !== undefined);
  if (!restarted) return settled;
  const read = await options.readRollout(workload);
  if (read === undefined)
    return { state: 'healthy', workload, detail: 'deleted since its restart' };
  const generation = settled.generation ?? 0;
  const state = rolloutState(workload.kind, read.object, generation);
  const soakMs = read.soakMs ?? inNamespace(options.soaks, workload.namespace);
  const soak = soakMs !== undefined && soakMs > 0 ? { soakMs } : {};
  switch (state.state) {
    case 'completed':
    case 'untrackable':
      return { state: 'healthy', workload, generation, ...soak, detail: state.detail };
    case 'failed':
      return { state: 'failed', workload, detail: `${state.reason}: ${state.detail}` };
    case 'progressing': {
      // Healthy before, progressing again (pods lost during the soak): the soak starts over.
      if (settled.state !== 'rolling') {
        return { state: 'rolling', workload, since: now.toISOString(), generation };
      }
      const age = now.getTime() - Date.parse(settled.since);
      if (age <= options.rolloutTimeoutMs) return settled;
      const seconds = Math.round(age / 1000);
      return {
        state: 'failed',
        workload,
        detail: `timeout: not ready ${seconds} s after its restart (${state.detail})`,
      };
    }
  }
}

/** The verdict on a wave from its settlements (judged now), the gate so far and the clock. */
export function verdictOf(input: {
  wave: number;
  size: number;
  settled: readonly Settled[];
  gate: Extract<Gate, { state: 'waiting' }>;
  now: Date;
  waveTimeoutMs: number;
  recheckMs: number;
}): { verdict: Verdict; healthySince?: string } {
  const { wave, size, settled, gate, now, recheckMs } = input;
  const bad = settled.find((s) => s.state === 'failed' || s.state === 'halted');
  if (bad !== undefined) {
    const what = bad.state === 'failed' ? 'failed its rollout' : 'was halted';
    const detail = `wave ${wave}: ${workloadName(bad.workload)} ${what} (${bad.detail})`;
    return { verdict: { state: 'halted', reason: 'wave_failed', detail } };
  }
  const waited = now.getTime() - Date.parse(gate.since);
  const healthy = settled.filter((s) => s.state === 'healthy');
  if (healthy.length < size) {
    const detail = `wave ${wave}: ${healthy.length} of ${size} workloads ready`;
    if (waited > input.waveTimeoutMs) {
      const minutes = Math.round(input.waveTimeoutMs / 60_000);
      const late = `${detail} after ${minutes} min`;
      return { verdict: { state: 'halted', reason: 'wave_timeout', detail: late } };
    }
    return { verdict: { state: 'waiting', detail, recheckMs } };
  }
  const healthySince = gate.healthySince ?? now.toISOString();
  const soakMs = Math.max(0, ...healthy.map((s) => (s.state === 'healthy' ? (s.soakMs ?? 0) : 0)));
  const left = Date.parse(healthySince) + soakMs - now.getTime();
  if (left > 0) {
    const detail = `wave ${wave}: ${size} ready, soaking ${Math.ceil(left / 1000)} s more`;
    return {
      verdict: { state: 'waiting', detail, recheckMs: Math.min(left, recheckMs * 5) },
      healthySince,
    };
  }
  const soaked = soakMs > 0 ? ` and healthy for ${Math.round(soakMs / 1000)} s` : '';
  return {
    verdict: { state: 'open', detail: `wave ${wave}: ${size} ready${soaked}` },
    healthySince,
  };
}

export function createWaves(options: WavesOptions): Waves {
  const now = options.now ?? (() => new Date());
  const recheckMs = options.recheckMs ?? 2_000;
  const { store } = options;

  /**
   * Every settlement of the wave, the restarted ones judged now; what changed is written back
   * unless a settling request wrote meanwhile (the next judgement reads again, as it always does).
   */
  async function judgeAll(eventId: string, wave: number, at: Date): Promise<Settled[]> {
    const key = settlementsKey(eventId, wave);
    const read = await store.settlements.read(key);
    const before = read.value ?? {};
    const after: Settlements = {};
    for (const [name, settled] of Object.entries(before)) {
      after[name] = await judged(settled, options, at);
    }
    if (read.revision > 0 && JSON.stringify(after) !== JSON.stringify(before)) {
      await store.settlements.write(key, after, read.revision);
    }
    return Object.values(after);
  }

  /** Judges the wave (this caller holds the lease) and writes the verdict for the others. */
  async function judge(
    eventId: string,
    wave: number,
    size: number,
    gate: Extract<Gate, { state: 'waiting' }>,
    revision: number,
  ): Promise<Verdict> {
    const at = now();
    const settled = await judgeAll(eventId, wave, at);
    const { verdict, healthySince } = verdictOf({
      wave,
      size,
      settled,
      gate,
      now: at,
      waveTimeoutMs: options.waveTimeoutMs,
      recheckMs,
    });
    const stamp = at.toISOString();
    const next: Gate =
      verdict.state === 'waiting'
        ? {
            state: 'waiting',
            since: gate.since,
            checkedAt: stamp,
            detail: verdict.detail,
            ...(healthySince !== undefined ? { healthySince } : {}),
          }
        : verdict.state === 'halted'
          ? { state: 'halted', at: stamp, reason: verdict.reason, detail: verdict.detail }
          : { state: 'open', at: stamp, detail: verdict.detail };
    const written = await store.gates.write(gateKey(eventId, wave), next, revision);
    if (written > 0 && verdict.state !== 'waiting') {
      options.onDecided?.({
        eventId,
        wave,
        since: new Date(gate.since),
        at,
        state: verdict.state,
        ...(verdict.state === 'halted' ? { reason: verdict.reason } : {}),
        detail: verdict.detail,
      });
    }
    return verdict;
  }

  return {
    async gate(request) {
      const wave = previousWave(request);
      if (wave === undefined) return { state: 'open', detail: 'first wave' };
      const size = request.waves?.sizes[String(wave)] ?? 0;
      const key = gateKey(request.eventId, wave);
      const at = now();
      const read = await store.gates.read(key);
      const gate = read.value;
      if (gate !== undefined && gate.state !== 'waiting') return gate;
      if (gate !== undefined) {
        const left = Date.parse(gate.checkedAt) + recheckMs - at.getTime();
        if (left > 0) return { state: 'waiting', detail: gate.detail, recheckMs: left };
      }
      // Take the lease: whoever writes checkedAt first judges; the others ask again later.
      const stamp = at.toISOString();
      const leased: Extract<Gate, { state: 'waiting' }> = {
        ...(gate ?? { state: 'waiting', since: stamp, detail: `wave ${wave}: not judged yet` }),
        checkedAt: stamp,
      };
      const revision = await store.gates.write(key, leased, read.revision);
      if (revision === 0) return { state: 'waiting', detail: leased.detail, recheckMs };
      return judge(request.eventId, wave, size, leased, revision);
    },
    async settle(request, settled) {
      const wave = request.waves?.wave;
      if (wave === undefined || !gatesLater(request)) return;
      const name = workloadName(request.workload);
      await casUpdate(
        store.settlements,
        settlementsKey(request.eventId, wave),
        (value) => ({ write: { ...value, [name]: settled }, result: undefined }),
        { what: `waves: the settlements of wave ${wave}` },
      );
    },
  };
}

/** The wave store in bucket BUCKETS.restarterWaves, bound on first use through the stage's JetStream. */
export function bucketWaveStore(js: () => JetStreamClient | undefined): WaveStore {
  const kv = lazyBucket(js, BUCKETS.restarterWaves);
  return {
    settlements: lazyCasStore(kv, (v) => SettlementsSchema.parse(v)),
    gates: lazyCasStore(kv, (v) => GateSchema.parse(v)),
  };
}
