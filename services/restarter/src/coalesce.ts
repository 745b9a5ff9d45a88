// Bursts: restart requests for the same workload and image that arrive within a short window.
// Two modes (COALESCE_MODE):
// - `leading` (default): the first request opens the window and the workload is restarted as
//   soon as its turn comes — at once for a lone push; in a burst, once the API rate (KUBE_QPS)
//   lets the next request through — with the latest request that arrived by then, so a push
//   superseded while it waited is never applied. Requests arriving later in the window are
//   collected and, when it closes, the workload is restarted once more with the latest of them
//   if it is newer. A burst restarts a workload at most twice per window.
// - `trailing`: nothing restarts until the window closes; then once, with the latest push.
//   Exactly one restart per burst, at the cost of the window's delay on every push.
// The window is a machine state with an `after` delay; the delay and the choice of the latest
// request are pure functions.
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

export type CoalesceMode = 'leading' | 'trailing';

/** What a window ends with: each restart it ran, with the member whose push it used. */
export interface WindowOutput {
  readonly members: readonly Member[];
  /** The restarts of the window, in order (leading mode: the latest member when its turn came, then the latest after it). */
  readonly restarts: readonly WindowRestart[];
}

interface WindowContext {
  first: Member;
  followers: Member[];
  mode: CoalesceMode;
  windowMs: number;
  /** The previous window of the same key: this one's restarts wait for it. */
  previous: Promise<unknown>;
  restarts: WindowRestart[];
}

const notProvided = (): Promise<never> => Promise.reject(new Error('effect not provided'));
const failedWith = (error: unknown): RestartOutput => ({ fate: 'failed', error });

/** Whom the window's leading restart applies: the latest member when its turn came. */
export function leadingWinner(context: Pick<WindowContext, 'first' | 'followers'>): Member {
  return latestOf([context.first, ...context.followers]);
}

/**
 * Whom the window restarts when it closes: the latest member not yet restarted, if it is newer
 * than the push the window last restarted with (an older one would only be superseded).
 */
export function trailingWinner(
  context: Pick<WindowContext, 'first' | 'followers' | 'restarts'>,
): Member | undefined {
  const winners = context.restarts.map((r) => r.winner);
  const last = winners.at(-1);
  const [head, ...rest] = [context.first, ...context.followers].filter(
    (m) => !winners.includes(m) && (last === undefined || isNewer(m, last)),
  );
  return head === undefined ? undefined : latestOf([head, ...rest]);
}

/** What a restart of the window reports: the member it chose when its turn came, and how it went. */
export interface WindowRestart {
  readonly winner: Member;
  readonly result: RestartOutput;
}

/**
 * One window: `open` (JOINs add followers; in leading mode the first member's restart runs
 * meanwhile) → when the window elapsed and the leading restart finished, restart the latest
 * member not yet restarted → done. A restart failure is an output, not an error.
 */
export const windowMachine = setup({
  types: {
    context: {} as WindowContext,
    input: {} as {
      first: Member;
      windowMs: number;
      mode: CoalesceMode;
      previous: Promise<unknown>;
    },
    events: {} as { type: 'JOIN'; member: Member },
    output: {} as WindowOutput,
  },
  actors: {
    /**
     * Waits for the workload's turn (`previous`, the previous window's restarts; the API rate),
     * then chooses with `choose` — so a push that arrived meanwhile is applied instead of an older
     * one — and restarts with it.
     */
    restart: fromPromise<
      WindowRestart,
      { choose: () => Member | undefined; previous: Promise<unknown> }
    >(notProvided),
  },
  delays: {
    window: ({ context }) => context.windowMs,
  },
  guards: {
    leading: ({ context }) => context.mode === 'leading',
    hasTrailing: ({ context }) => trailingWinner(context) !== undefined,
  },
}).createMachine({
  id: 'window',
  context: ({ input }) => ({ ...input, followers: [], restarts: [] }),
  initial: 'open',
  states: {
    open: {
      type: 'parallel',
      on: {
        JOIN: {
          actions: assign({
            followers: ({ context, event }) => [...context.followers, event.member],
          }),
        },
      },
      states: {
        leading: {
          initial: 'choosing',
          states: {
            choosing: {
              always: [{ guard: 'leading', target: 'restarting' }, { target: 'finished' }],
            },
            restarting: {
              invoke: {
                src: 'restart',
                input: ({ self, context }) => ({
                  choose: () => leadingWinner(self.getSnapshot().context),
                  previous: context.previous,
                }),
                onDone: {
                  target: 'finished',
                  actions: assign({ restarts: ({ event }) => [event.output] }),
                },
                onError: {
                  target: 'finished',
                  actions: assign({
                    restarts: ({ context, event }) => [
                      { winner: context.first, result: failedWith(event.error) },
                    ],
                  }),
                },
              },
            },
            finished: { type: 'final' },
          },
        },
        window: {
          initial: 'counting',
          states: { counting: { after: { window: 'elapsed' } }, elapsed: { type: 'final' } },
        },
      },
      onDone: 'closing',
    },
    closing: { always: [{ guard: 'hasTrailing', target: 'trailing' }, { target: 'done' }] },
    trailing: {
      invoke: {
        src: 'restart',
        input: ({ self, context }) => ({
          choose: () => trailingWinner(self.getSnapshot().context),
          previous: context.previous,
        }),
        onDone: {
          target: 'done',
          actions: assign({
            restarts: ({ context, event }) => [...context.restarts, event.output],
          }),
        },
        onError: {
          target: 'done',
          actions: assign({
            restarts: ({ context, event }) => [
              ...context.restarts,
              {
                winner: trailingWinner(context) ?? context.first,
                result: failedWith(event.error),
              },
            ],
          }),
        },
      },
    },
    done: { type: 'final' },
  },
  output: ({ context }) => ({
    members: [context.first, ...context.followers],
    restarts: context.restarts,
  }),
});

/** How one member's request ends, given its window's output. */
export type MemberResult =
  | RestartOutput
  | { fate: 'unchanged'; reason: 'superseded'; by: RestartRequest };

/**
 * A member whose push a restart used gets that restart's result. The others were superseded by
 * the window's last restart (`unchanged`, reason `superseded`) when it restarted or already ran a
 * push, share `gone` when the workload is gone, and share the failure (the broker retries).
 */
export function memberResult(member: Member, output: WindowOutput): MemberResult {
  const own = output.restarts.find((r) => r.winner === member);
  if (own) return own.result;
  const last = output.restarts.at(-1);
  if (last === undefined) return failedWith(new Error('window ended without a restart'));
  const { result } = last;
  if (
    result.fate === 'restarted' ||
    result.fate === 'unchanged' ||
    result.fate === 'would-restart' ||
    result.fate === 'held' // the window's latest push waits for its delay: it wins
  ) {
    return { fate: 'unchanged', reason: 'superseded', by: last.winner.request };
  }
  return result;
}
