// The open windows of one restarter replica, one per (workload, image). A request joins the
// open window of its key or opens one; a window's restarts wait for the previous window of the
// same key, so one replica never runs two restarts of a workload at once, and then for the API
// rate limiter before choosing which push to apply.
import { createActor, fromPromise, toPromise, type Actor } from 'xstate';
import type { RestartRequest } from '@onpush/contracts';
import {
  type CoalesceMode,
  coalesceKey,
  memberResult,
  windowMachine,
  type Member,
  type MemberResult,
  type WindowOutput,
} from './coalesce.js';
import { captureContext, runInContext, type Context } from '@onpush/telemetry';
import type { RestartOutput } from './machine.js';

export interface CoalescerOptions {
  /** How long a window stays open (see `windowMs`); 0 restarts each request on its own. */
  windowMs: number;
  /** `leading` (default): restart the first request at once; `trailing`: only at the window's end. */
  mode?: CoalesceMode;
  /**
   * Restarts the workload with this request's push (the restart machine); `prepaid` when `turn`
   * already took the first API request's token.
   */
  restart: (request: RestartRequest, prepaid: boolean) => Promise<RestartOutput>;
  /**
   * Resolves when the next API request may go (takes its token from the rate limiter). A restart
   * chooses its push only then: what arrived while it waited is applied instead of what it
   * supersedes. Unset: the push is chosen at once.
   */
  turn?: () => Promise<void>;
}

export interface Coalescer {
  /** Resolves once the request's window ended, with how this request ends. */
  join(member: Member): Promise<MemberResult>;
  /** Windows still open or restarting. */
  size(): number;
}

interface Window {
  actor: Actor<typeof windowMachine>;
  output: Promise<WindowOutput>;
}

export function createCoalescer(options: CoalescerOptions): Coalescer {
  const open = new Map<string, Window>();
  const last = new Map<string, Promise<unknown>>();
  const contexts = new WeakMap<Member, Context>();

  // Provided once (xstate's provide copies the machine's implementations each time).
  const machine = windowMachine.provide({
    actors: {
      restart: fromPromise(async ({ input }) => {
        await input.previous.catch(() => undefined);
        await options.turn?.();
        const winner = input.choose();
        if (winner === undefined) throw new Error('a window restarted with no request');
        // In the trace of the delivery whose push it applies, not of whoever opened the window.
        const result = await runInContext(contexts.get(winner), () =>
          options.restart(winner.request, options.turn !== undefined),
        );
        return { winner, result };
      }),
    },
  });

  function openWindow(key: string, first: Member): Window {
    const actor = createActor(machine, {
      input: {
        first,
        windowMs: options.windowMs,
        mode: options.mode ?? 'leading',
        previous: last.get(key) ?? Promise.resolve(),
      },
    });
    const window: Window = { actor, output: toPromise(actor) };
    actor.subscribe((snapshot) => {
      if (!snapshot.matches('open') && open.get(key) === window) open.delete(key);
    });
    last.set(key, window.output);
    void window.output
      .finally(() => {
        if (last.get(key) === window.output) last.delete(key);
      })
      .catch(() => undefined);
    open.set(key, window);
    actor.start();
    return window;
  }

  /** The window as soon as its leading restart finished (or the whole window, if sooner). */
  function leadingOutput(window: Window): Promise<WindowOutput> {
    return new Promise((resolve, reject) => {
      const check = (): boolean => {
        const { context } = window.actor.getSnapshot();
        if (context.restarts.length === 0) return false;
        resolve({ members: [context.first, ...context.followers], restarts: context.restarts });
        return true;
      };
      if (check()) return;
      const subscription = window.actor.subscribe(() => {
        if (check()) subscription.unsubscribe();
      });
      window.output.then(resolve, reject);
    });
  }

  return {
    async join(member) {
      contexts.set(member, captureContext());
      const key = coalesceKey(member.request);
      const current = open.get(key);
      if (current?.actor.getSnapshot().matches('open')) {
        current.actor.send({ type: 'JOIN', member });
        return memberResult(member, await current.output);
      }
      const window = openWindow(key, member);
      if ((options.mode ?? 'leading') === 'leading') {
        // The first request's restart ran at once: it ends then, it does not hold its message
        // (and an in-flight slot) for the rest of the window.
        return memberResult(member, await leadingOutput(window));
      }
      return memberResult(member, await window.output);
    },
    size: () => new Set([...open.keys(), ...last.keys()]).size,
  };
}
