import { assign, fromCallback, fromPromise, setup } from 'xstate';

export type LifecycleEvent =
  | { type: 'STOP' }
  | { type: 'DEPENDENCY_LOST'; dependency: string }
  | { type: 'DEPENDENCY_BACK'; dependency: string };

/** Wait before connecting again after a failed attempt: doubles from 250 ms, at most 10 s. */
export function reconnectDelayMs(attempt: number): number {
  return Math.min(10_000, 250 * 2 ** Math.max(0, attempt - 1));
}

const notProvided = (): Promise<never> => Promise.reject(new Error('effect not provided'));

/**
 * A service's life: starting → connecting → running ⇄ degraded → draining → stopped.
 * `connect` binds to every dependency (failures are retried with a growing delay); `run`
 * does the work and reports lost/returned dependencies; `drain` stops taking work, finishes
 * what is in flight and acks it. Effects come from `.provide()`.
 */
export const lifecycleMachine = setup({
  types: {
    context: {} as { attempts: number; lastError: string | undefined; lost: string[] },
    events: {} as LifecycleEvent,
  },
  actors: {
    connect: fromPromise<void>(notProvided),
    run: fromCallback<LifecycleEvent>(() => undefined),
    drain: fromPromise<void>(notProvided),
  },
  guards: {
    lastLostReturned: ({ context, event }) =>
      event.type === 'DEPENDENCY_BACK' && context.lost.every((d) => d === event.dependency),
  },
  delays: {
    reconnect: ({ context }) => reconnectDelayMs(context.attempts),
  },
}).createMachine({
  id: 'lifecycle',
  context: { attempts: 0, lastError: undefined, lost: [] },
  initial: 'starting',
  states: {
    starting: { always: 'connecting' },
    connecting: {
      entry: assign({ attempts: ({ context }) => context.attempts + 1 }),
      invoke: {
        src: 'connect',
        onDone: { target: 'active', actions: assign({ attempts: 0, lastError: undefined }) },
        onError: {
          target: 'waiting',
          actions: assign({
            lastError: ({ event }) =>
              event.error instanceof Error ? event.error.message : String(event.error),
          }),
        },
      },
      on: { STOP: 'stopped' },
    },
    waiting: {
      after: { reconnect: 'connecting' },
      on: { STOP: 'stopped' },
    },
    active: {
      invoke: { src: 'run' },
      initial: 'running',
      states: {
        running: {
          on: {
            DEPENDENCY_LOST: {
              target: 'degraded',
              actions: assign({
                lost: ({ context, event }) => [...new Set([...context.lost, event.dependency])],
              }),
            },
          },
        },
        degraded: {
          on: {
            DEPENDENCY_LOST: {
              actions: assign({
                lost: ({ context, event }) => [...new Set([...context.lost, event.dependency])],
              }),
            },
            DEPENDENCY_BACK: [
              {
                guard: 'lastLostReturned',
                target: 'running',
                actions: assign({ lost: [] }),
              },
              {
                actions: assign({
                  lost: ({ context, event }) => context.lost.filter((d) => d !== event.dependency),
                }),
              },
            ],
          },
        },
      },
      on: { STOP: 'draining' },
    },
    draining: {
      invoke: { src: 'drain', onDone: 'stopped', onError: 'stopped' },
    },
    stopped: { type: 'final' },
  },
});
