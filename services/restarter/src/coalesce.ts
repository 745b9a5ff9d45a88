// Bursts: restart requests for the same workload and image that arrive within a short window
// restart it once, with the latest push. The window is a machine state with an `after` delay;
// the delay and the choice of the latest request are pure functions.
import { assign, fromPromise, setup } from 'xstate';
import type { RestartRequest } from '@onpush/contracts';
import type { RestartOutput } from './machine.js';

/** One request waiting in a window: the request and its ONPUSH stream sequence (arrival order). */
export interface Member {
  readonly request: RestartRequest;
  readonly seq: number;
}

/** Requests coalesce when they name the same workload and the same image. */
export function coalesceKey(request: RestartRequest): string {
  const { kind, namespace, name } = request.workload;
  return `${kind}/${namespace}/${name}|${request.image}`;
}

/**
 * True when `a` is a later push than `b`: by the pushes' own times when both have one and they
 * differ, else by stream order (the later arrival wins).
 */
export function isNewer(a: Member, b: Member): boolean {
  const at = Date.parse(a.request.pushedAt ?? '');
  const bt = Date.parse(b.request.pushedAt ?? '');
  if (!Number.isNaN(at) && !Number.isNaN(bt) && at !== bt) return at > bt;
  return a.seq > b.seq;
}

/** The member whose push the workload is restarted with. */
export function latestOf(members: readonly [Member, ...Member[]]): Member {
  return members.reduce((best, m) => (isNewer(m, best) ? m : best));
}

/** Share of the ack wait a window may last at most: a held message must never time out. */
export const MAX_WINDOW_SHARE = 0.25;

/** How long a window stays open: COALESCE_WINDOW, capped at a quarter of the ack wait. */
export function windowMs(configuredMs: number, ackWaitMs: number): number {
  return Math.max(0, Math.min(configuredMs, Math.floor(ackWaitMs * MAX_WINDOW_SHARE)));
}

/** What a window ends with: the chosen member and how its restart ended. */
export interface WindowOutput {
  readonly winner: Member;
  readonly members: readonly Member[];
  readonly result: RestartOutput;
}

interface WindowContext {
  members: [Member, ...Member[]];
  windowMs: number;
  result: RestartOutput | undefined;
}

const notProvided = (): Promise<never> => Promise.reject(new Error('effect not provided'));

/**
 * One window: collecting (JOINs add members) → after `windowMs`, restarting the latest member
 * (the `restart` effect runs the restart machine) → done. A restart failure is an output, not an
 * error: every member of the window shares it.
 */
export const windowMachine = setup({
  types: {
    context: {} as WindowContext,
    input: {} as { first: Member; windowMs: number },
    events: {} as { type: 'JOIN'; member: Member },
    output: {} as WindowOutput,
  },
  actors: {
    restart: fromPromise<RestartOutput, { winner: Member }>(notProvided),
  },
  delays: {
    window: ({ context }) => context.windowMs,
  },
}).createMachine({
  id: 'window',
  context: ({ input }) => ({ members: [input.first], windowMs: input.windowMs, result: undefined }),
  initial: 'collecting',
  states: {
    collecting: {
      on: {
        JOIN: {
          actions: assign({ members: ({ context, event }) => [...context.members, event.member] }),
        },
      },
      after: { window: 'restarting' },
    },
    restarting: {
      invoke: {
        src: 'restart',
        input: ({ context }) => ({ winner: latestOf(context.members) }),
        onDone: { target: 'done', actions: assign({ result: ({ event }) => event.output }) },
        onError: {
          target: 'done',
          actions: assign({ result: ({ event }) => ({ fate: 'failed', error: event.error }) }),
        },
      },
    },
    done: { type: 'final' },
  },
  output: ({ context }) => ({
    winner: latestOf(context.members),
    members: context.members,
    result: context.result ?? { fate: 'failed', error: new Error('window ended without a result') },
  }),
});

/** How one member's request ends, given its window's output. */
export type MemberResult =
  | RestartOutput
  | { fate: 'unchanged'; reason: 'superseded'; by: RestartRequest };

/**
 * The winner gets its restart's result; the others were superseded by it (`unchanged`,
 * reason `superseded`) when it restarted or already ran a push, share `gone` when the workload
 * is gone, and share the failure (each goes back to the broker) when the restart failed.
 */
export function memberResult(member: Member, output: WindowOutput): MemberResult {
  if (member === output.winner) return output.result;
  const { result } = output;
  if (result.fate === 'restarted' || result.fate === 'unchanged') {
    return { fate: 'unchanged', reason: 'superseded', by: output.winner.request };
  }
  return result;
}
