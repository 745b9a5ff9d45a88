// Following ONE rollout: each state a watch observes moves it on (completed, failed, or not
// followable at all); the time limit is an `after` delay; a deleted workload fails it; a stop
// (drain, or a newer restart of the same workload) ends it without a result.
import { assign, setup } from 'xstate';
import type { RolloutFailure, RolloutState } from './status.js';

export type RolloutEvent =
  | { type: 'OBSERVED'; state: RolloutState }
  | { type: 'DELETED' }
  | { type: 'STOP' };

/** How the rollout ended; `untracked` and `stopped` publish nothing. */
export type RolloutResult =
  | { end: 'completed'; detail: string }
  | { end: 'failed'; reason: RolloutFailure | 'timeout' | 'deleted'; detail: string }
  | { end: 'untracked'; detail: string }
  | { end: 'stopped' };

interface RolloutContext {
  /** The limit from the restart (ROLLOUT_TIMEOUT), and what is left of it when following starts. */
  timeoutMs: number;
  leftMs: number;
  last: RolloutState | undefined;
  result: RolloutResult | undefined;
}

const observed = (event: RolloutEvent): RolloutState | undefined =>
  event.type === 'OBSERVED' ? event.state : undefined;

export const rolloutMachine = setup({
  types: {
    context: {} as RolloutContext,
    input: {} as { timeoutMs: number; leftMs?: number },
    events: {} as RolloutEvent,
    output: {} as RolloutResult,
  },
  guards: {
    completed: ({ event }) => observed(event)?.state === 'completed',
    failed: ({ event }) => observed(event)?.state === 'failed',
    untrackable: ({ event }) => observed(event)?.state === 'untrackable',
  },
  actions: {
    remember: assign({ last: ({ event, context }) => observed(event) ?? context.last }),
    end: assign((_, result: RolloutResult) => ({ result })),
  },
  delays: {
    timeout: ({ context }) => context.leftMs,
  },
}).createMachine({
  id: 'rollout',
  context: ({ input }) => ({
    timeoutMs: input.timeoutMs,
    leftMs: input.leftMs ?? input.timeoutMs,
    last: undefined,
    result: undefined,
  }),
  initial: 'following',
  states: {
    following: {
      after: { timeout: 'timedOut' },
      on: {
        OBSERVED: [
          { guard: 'completed', target: 'done', actions: 'remember' },
          { guard: 'failed', target: 'done', actions: 'remember' },
          { guard: 'untrackable', target: 'done', actions: 'remember' },
          { actions: 'remember' },
        ],
        DELETED: {
          target: 'done',
          actions: {
            type: 'end',
            params: { end: 'failed', reason: 'deleted', detail: 'deleted during its rollout' },
          },
        },
        STOP: { target: 'done', actions: { type: 'end', params: { end: 'stopped' } } },
      },
    },
    timedOut: {
      always: {
        target: 'done',
        actions: assign({
          result: ({ context }) => ({
            end: 'failed' as const,
            reason: 'timeout' as const,
            detail: `not done after ${Math.round(context.timeoutMs / 1000)} s${context.last ? `: ${context.last.detail}` : ''}`,
          }),
        }),
      },
    },
    done: { type: 'final' },
  },
  output: ({ context }) => context.result ?? resultOf(context.last),
});

function resultOf(state: RolloutState | undefined): RolloutResult {
  switch (state?.state) {
    case 'completed':
      return { end: 'completed', detail: state.detail };
    case 'failed':
      return { end: 'failed', reason: state.reason, detail: state.detail };
    case 'untrackable':
      return { end: 'untracked', detail: state.detail };
    default:
      return { end: 'stopped' };
  }
}
