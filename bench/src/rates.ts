// Latency and CPU at every load (issue 15): webhook POST → PATCH seen by a watch at a ladder of
// rates, each beside the floor measured at the same rate in the same run — the bare JetStream hops
// and the bare PATCH → watch, which onpush cannot beat — and the CPU all five services and
// nats-server spent per push.
import { benchBroker } from './broker.js';
import type { benchKubeFloor } from './floor.js';
import { processCpuSeconds, processIo, type ProcessIo } from './idle.js';
import { webhookLatency } from './pipeline.js';
import { stageTimes, type StageTimes } from './stages.js';
import type { Summary } from './stats.js';
import { round } from './stats.js';

/** One step of the ladder: a rate and how long it is held. */
export interface RateStep {
  rate: number;
  seconds: number;
}

/** What the floor costs at one rate: its two parts, measured before the services start. */
export interface RateFloor extends RateStep {
  brokerMs: Summary;
  patchMs: Summary;
}

export interface RateResult extends RateStep {
  pushes: number;
  restarted: number;
  latencyMs: Summary;
  /** The floor's p50 and p99: bare broker + bare PATCH → watch (their sums). */
  floorMs: { p50: number; p99: number };
  /** onpush ÷ floor. */
  ratio: { p50: number; p99: number };
  /** CPU ms per push: the five services (summed, and each), and nats-server. */
  cpuPerPushMs: { services: number; natsServer: number; byService: Record<string, number> };
  /**
   * Per push, per process (the five services and `nats-server`): write calls and wake-ups
   * (`processIo`) — what the CPU per push is mostly made of on this machine.
   */
  ioPerPush: Record<string, ProcessIo>;
  /** Where the time went at this rate (JetStream's timestamps, the bench's clock at the ends). */
  stages: StageTimes;
}

/** Each process's `processIo` now, by name; a process that is gone is left out. */
function ioOf(pids: Record<string, number | undefined>): Record<string, ProcessIo> {
  const out: Record<string, ProcessIo> = {};
  for (const [name, pid] of Object.entries(pids)) {
    if (pid === undefined) continue;
    try {
      out[name] = processIo(pid);
    } catch {
      // exited (a crash would show in the step's accounting, not here)
    }
  }
  return out;
}

/** `after − before` per process, divided by `pushes`. */
function ioPerPush(
  before: Record<string, ProcessIo>,
  after: Record<string, ProcessIo>,
  pushes: number,
): Record<string, ProcessIo> {
  const out: Record<string, ProcessIo> = {};
  for (const [name, a] of Object.entries(after)) {
    const b = before[name];
    if (b === undefined) continue;
    out[name] = {
      writes: round((a.writes - b.writes) / pushes, 2),
      wakeups: round((a.wakeups - b.wakeups) / pushes, 2),
    };
  }
  return out;
}

/** The floors of every step, one after the other (nothing else should be running). */
export async function rateFloors(
  steps: readonly RateStep[],
  floor: {
    natsUrl: string;
    patch: (rate: number, seconds: number) => ReturnType<typeof benchKubeFloor>;
  },
  log: (line: string) => void,
): Promise<RateFloor[]> {
  const floors: RateFloor[] = [];
  for (const step of steps) {
    log(`rates: floor at ${step.rate}/s for ${step.seconds}s (bare broker, bare PATCH)`);
    const broker = await benchBroker(floor.natsUrl, 3, step.rate, step.seconds);
    const patch = await floor.patch(step.rate, step.seconds);
    floors.push({ ...step, brokerMs: broker.latencyMs, patchMs: patch.latencyMs });
  }
  return floors;
}

/** Pushes sent before the ladder, unmeasured; its event ids use step number WARM_UP_STEP. */
const WARM_UP: RateStep = { rate: 20, seconds: 3 };
const WARM_UP_STEP = 9;

/** The ladder against the running services, each step beside its floor. */
export async function benchRates(options: {
  floors: readonly RateFloor[];
  ingestPort: number;
  target: { workloads: number; seen: Map<string, number[]> };
  /** CPU seconds each of the five services has used so far. */
  servicesCpu: () => Promise<Record<string, number>>;
  natsPid: number | undefined;
  /** The services' process ids now (a replica restarted has a new one). */
  servicePids: () => Record<string, number | undefined>;
  natsUrl: string;
  /** A multiple of 10,000,000: the steps' event ids are `wh-<offset + step × 1,000,000 + n>`. */
  offset: number;
  log: (line: string) => void;
}): Promise<RateResult[]> {
  if (options.floors.length > WARM_UP_STEP) throw new Error(`at most ${WARM_UP_STEP} rates`);
  const out: RateResult[] = [];
  const natsCpu = () => (options.natsPid ? processCpuSeconds(options.natsPid) : Number.NaN);
  // Warm first (JIT, connections, the first rollouts followed), unmeasured: run alone
  // (--only=rates), the first step was charged up to twice its steady CPU per push for the
  // services' start-up.
  options.log(`rates: warming up at ${WARM_UP.rate}/s for ${WARM_UP.seconds}s (not measured)`);
  await webhookLatency(
    options.ingestPort,
    options.target,
    WARM_UP.rate,
    WARM_UP.seconds,
    options.offset + WARM_UP_STEP * 1_000_000,
  );
  for (const [i, floor] of options.floors.entries()) {
    options.log(`rates: webhook → PATCH at ${floor.rate}/s for ${floor.seconds}s`);
    const services = await options.servicesCpu();
    const nats = natsCpu();
    const pids = { ...options.servicePids(), 'nats-server': options.natsPid };
    const ioBefore = ioOf(pids);
    const offset = options.offset + i * 1_000_000;
    const sentAt = new Map<string, number>();
    const run = await webhookLatency(
      options.ingestPort,
      options.target,
      floor.rate,
      floor.seconds,
      offset,
      sentAt,
    );
    const perPush = (seconds: number) => round((seconds * 1_000) / run.sent, 3);
    const ioAfter = ioOf(pids);
    const after = await options.servicesCpu();
    const byService = Object.fromEntries(
      Object.entries(after).map(([s, used]) => [s, perPush(used - (services[s] ?? 0))]),
    );
    const floorMs = {
      p50: round(floor.brokerMs.p50 + floor.patchMs.p50),
      p99: round(floor.brokerMs.p99 + floor.patchMs.p99),
    };
    out.push({
      rate: floor.rate,
      seconds: floor.seconds,
      pushes: run.sent,
      restarted: run.restarted,
      latencyMs: run.latencyMs,
      floorMs,
      ratio: {
        p50: round(run.latencyMs.p50 / floorMs.p50),
        p99: round(run.latencyMs.p99 / floorMs.p99),
      },
      cpuPerPushMs: {
        services: round(
          Object.values(byService).reduce((a, b) => a + b, 0),
          3,
        ),
        natsServer: perPush(natsCpu() - nats),
        byService,
      },
      ioPerPush: ioPerPush(ioBefore, ioAfter, run.sent),
      // every id of this step, and no other step's, starts with the offset's millions
      stages: await stageTimes(options.natsUrl, `gar:wh-${offset / 1_000_000}`, {
        sentAt,
        seen: options.target.seen,
      }),
    });
  }
  return out;
}
