import { z } from 'zod';
import { bool, duration, enumOf, int, perNamespace, port } from '@onpush/config';
import { parseCooldown, scopeFields } from '@onpush/kube';
import { notifyFields, unknownTargets } from '@onpush/notify';
import { baseServiceSchema } from '@onpush/service';

/** A positive decimal such as `50` or `0.5` (client-go's QPS is a float too). */
function positiveNumber() {
  return z
    .string()
    .regex(/^\d+(?:\.\d+)?$/, { error: 'must be a positive number such as 50 or 0.5' })
    .transform(Number)
    .refine((value) => value > 0, { error: 'must be greater than 0' });
}

/** The longest maturity delay: how long the work stream keeps a held request. */
const WEEK_MS = 7 * 24 * 60 * 60 * 1000;

/** `shop=10m,blog=0s`: a duration per namespace, at most a week (a maturity delay, a soak). */
const namespaceDurations = (example: string) =>
  perNamespace((text) => {
    const ms = parseCooldown(text);
    return ms !== undefined && ms <= WEEK_MS ? ms : undefined;
  }, `namespace=duration such as ${example} (at most a week)`);

/** `prod=2,staging=5`: rollouts in progress at most per namespace. */
const namespaceBudgets = () =>
  perNamespace(
    (text) => (/^\d{1,6}$/.test(text) ? Number(text) : undefined),
    'namespace=count such as prod=2',
  );

/** `prod=required,dev=none` (approval) or `prod=auto,dev=none` (rollback): yes or no per namespace. */
const namespaceChoices = (yes: string) =>
  perNamespace(
    (text) => (text === yes ? true : text === 'none' ? false : undefined),
    `namespace=${yes} or namespace=none such as prod=${yes}`,
  );

export const restarterSchema = baseServiceSchema
  .extend({
    PORT: port({ allowZero: true }).default(8084),
    /** One kubeconfig file; unset: the standard places, then the in-cluster ServiceAccount. */
    KUBECONFIG: z.string().min(1).optional(),
    /** Sustained Kubernetes API requests per second (token bucket refill rate). */
    KUBE_QPS: positiveNumber().default(50),
    /** Requests allowed at once above the sustained rate (token bucket size). */
    KUBE_BURST: int({ min: 1, max: 100_000 }).default(100),
    MAX_IN_FLIGHT: int({ min: 1, max: 10_000 }).default(64),
    /**
     * Requests for one workload and image arriving within this window restart it once, with the
     * latest push; 0 turns coalescing off. Capped at a quarter of the consumer's ack wait.
     */
    COALESCE_WINDOW: duration({ min: 0, max: 60_000 }).default(300),
    /**
     * `leading`: a request restarts at once and opens the window; the latest request that arrived
     * in it restarts once more when it closes. `trailing`: one restart, with the latest request,
     * when the window closes (every push waits the window).
     */
    COALESCE_MODE: enumOf(['leading', 'trailing']).default('leading'),
    /**
     * What the restarter agrees to patch, set alike on the resolver: a request for a workload
     * outside it ends `refused`, whoever published it.
     */
    ...scopeFields,
    /** Decide every request as usual, patch nothing: fate `would-restart`. */
    ONPUSH_DRY_RUN: bool().default(false),
    /** Follow each rollout started and publish rollout-completed / rollout-failed. */
    ROLLOUT_TRACKING: bool().default(true),
    /** A rollout not done by then is `rollout-failed` with reason `timeout`. */
    ROLLOUT_TIMEOUT: duration({ min: 1_000, max: 86_400_000 }).default(600_000),
    /** Rollouts followed at once at most (one replica). */
    ROLLOUT_TRACK_MAX: int({ min: 1, max: 100_000 }).default(1_000),
    /**
     * Maturity delay of workloads without `onpush.dev/delay`: a push is applied only once it is
     * this old. At most a week (how long the work stream keeps a held request).
     */
    DELAY: duration({ max: WEEK_MS }).default(0),
    /** The same per namespace, over DELAY: `shop=10m,blog=0s`. */
    DELAY_NAMESPACES: namespaceDurations('shop=10m').default({}),
    /**
     * Staged rollouts (`onpush.dev/wave`): how long a wave may take to settle — every workload of
     * it restarted, or decided — before the later waves of the push are halted (`wave_timeout`).
     * A rollout itself fails after ROLLOUT_TIMEOUT. At most a week (how long a request is kept).
     */
    WAVE_TIMEOUT: duration({ min: 1_000, max: WEEK_MS }).default(3_600_000),
    /**
     * The soak of a wave's workloads without `onpush.dev/soak`: how long the wave stays healthy
     * before the next one starts. At most a week.
     */
    SOAK: duration({ max: WEEK_MS }).default(0),
    /** The same per namespace, over SOAK: `staging=10m`. */
    SOAK_NAMESPACES: namespaceDurations('prod=5m').default({}),
    /**
     * The rollout budget: at most this many workloads rolling out at once, cluster-wide (0: no
     * limit); further restarts wait their turn, in order, durably (KV onpush_restarter_budget).
     */
    ROLLOUT_BUDGET: int({ min: 0, max: 100_000 }).default(0),
    /** The same per namespace, over ROLLOUT_BUDGET: `prod=2,staging=5`. */
    ROLLOUT_BUDGET_NAMESPACES: namespaceBudgets().default({}),
    /**
     * `onpush.dev/approval: required`: how long a restart waits for someone to approve or reject it
     * before it ends `expired`. At most a week (how long a request is kept).
     */
    APPROVAL_TIMEOUT: duration({ min: 1_000, max: WEEK_MS }).default(86_400_000),
    /** `required`: every restart of a workload without `onpush.dev/approval` waits for an approval. */
    APPROVAL: enumOf(['required', 'none']).default('none'),
    /** The same per namespace, over APPROVAL: `prod=required,dev=none`. */
    APPROVAL_NAMESPACES: namespaceChoices('required').default({}),
    /** `auto`: a failed rollout of a workload without `onpush.dev/rollback` is rolled back. */
    ROLLBACK: enumOf(['auto', 'none']).default('none'),
    /** The same per namespace, over ROLLBACK: `prod=auto`. */
    ROLLBACK_NAMESPACES: namespaceChoices('auto').default({}),
    /**
     * Kubernetes Events on the workload for each decision and rollout result (`kubectl describe`).
     * Best effort, with their own rate limit: the outcome stream is the record.
     */
    EVENTS: bool().default(true),
    /** Events per second at most (token bucket refill rate), apart from KUBE_QPS. */
    EVENTS_QPS: positiveNumber().default(50),
    /** Events allowed at once above EVENTS_QPS. */
    EVENTS_BURST: int({ min: 1, max: 100_000 }).default(100),
    /** Events waiting to be sent at most; more are dropped (counted). */
    EVENTS_QUEUE: int({ min: 1, max: 1_000_000 }).default(1_000),
    ...notifyFields,
  })
  .superRefine((config, ctx) => {
    for (const problem of unknownTargets(config)) {
      ctx.addIssue({ code: 'custom', path: [problem.variable], message: problem.message });
    }
  });

export type RestarterConfig = z.output<typeof restarterSchema>;
