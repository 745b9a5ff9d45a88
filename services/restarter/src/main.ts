#!/usr/bin/env node
import { ConfigError, configOrExit, orExit } from '@onpush/config';
import {
  kubeHttp,
  loadKubeConfig,
  labelSelector,
  scopeFromConfig,
  watchStart,
  type KubeConfig,
} from '@onpush/kube';
import { BUCKETS, type Outcome } from '@onpush/contracts';
import { approvalsIn, lazyBucket, type JetStreamClient } from '@onpush/nats';
import { approvalNotification, createNotifier, notificationCounter } from '@onpush/notify';
import {
  consumerSpecOrExit,
  defineStage,
  runService,
  stageSettings,
  TokenBucket,
} from '@onpush/service';
import {
  activeTraceparent,
  createLogger,
  createMetrics,
  pushToRestartHistogram,
} from '@onpush/telemetry';
import { windowMs } from './coalesce.js';
import { restarterSchema } from './config.js';
import {
  createEventRecorder,
  eventCounter,
  eventOfApproval,
  eventOfHold,
  eventOfRollbackUnavailable,
  eventOfWait,
} from './events.js';
import { bucketHolds } from './holds.js';
import { createHandler } from './handler.js';
import { kubeEffects } from './kube.js';
import { followingGauge, kubeRequestCounter, outcomeCounter, rolloutCounter } from './metrics.js';
import { trackRequest } from './rollout/outcome.js';
import { notifyDeadLetters, rolloutReporter } from './rollout/report.js';
import { readUnfinishedRollouts } from './rollout/recover.js';
import { createTracker, type Tracker } from './rollout/tracker.js';
import { apiRolloutReader } from './rollout/read.js';
import { bucketBudgetStore, createBudget } from './budget.js';
import { recordWaveGate } from './telemetry.js';
import { bucketWaveStore, createWaves } from './waves.js';

/** The kubeconfig, or a ConfigError naming KUBECONFIG when it cannot be read. */
function kubeConfigOf(path: string | undefined): KubeConfig {
  try {
    return loadKubeConfig(path);
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    throw new ConfigError([{ variable: 'KUBECONFIG', message: `cannot load: ${reason}` }]);
  }
}

const config = configOrExit(restarterSchema, process.env, 'restarter');
const log = createLogger({ service: 'restarter' }, { level: config.LOG_LEVEL });
const metrics = createMetrics('restarter', config.CLUSTER_NAME);
const settings = stageSettings(config, log, metrics);
const { ackWaitMs } = consumerSpecOrExit('restarter', settings.tuning, 'restarter');
const kubeConfig = orExit('restarter', () => kubeConfigOf(config.KUBECONFIG));
const bucket = new TokenBucket({ qps: config.KUBE_QPS, burst: config.KUBE_BURST });
const http = await kubeHttp(kubeConfig);
const kubeRequests = kubeRequestCounter(metrics.registry);
const effects = kubeEffects({ http, bucket, requests: kubeRequests });
const events = config.EVENTS
  ? createEventRecorder({
      http,
      bucket: new TokenBucket({ qps: config.EVENTS_QPS, burst: config.EVENTS_BURST }),
      queueSize: config.EVENTS_QUEUE,
      counter: eventCounter(metrics.registry),
      log: log.child({ component: 'events' }),
    })
  : undefined;
const recordEvent = events ? (outcome: Outcome) => events.record(outcome) : undefined;

const notifier =
  config.NOTIFY_TARGETS.length === 0
    ? undefined
    : createNotifier({
        targets: config.NOTIFY_TARGETS,
        routes: config.NOTIFY_NAMESPACES,
        fallback: config.NOTIFY_DEFAULT,
        allowed: config.NOTIFY_ALLOWED,
        events: config.NOTIFY_ON,
        queueSize: config.NOTIFY_QUEUE,
        retriesMs: config.NOTIFY_RETRIES,
        timeoutMs: config.NOTIFY_TIMEOUT,
        log: log.child({ component: 'notify' }),
        counter: notificationCounter(metrics.registry),
        cluster: config.CLUSTER_NAME,
      });
const rollouts = rolloutCounter(metrics.registry);
const tracker = config.ROLLOUT_TRACKING
  ? createTracker({
      watch: watchStart(kubeConfig),
      timeoutMs: config.ROLLOUT_TIMEOUT,
      maxTracked: config.ROLLOUT_TRACK_MAX,
      report: rolloutReporter({
        publish: () => stage.context?.publish,
        notifier,
        log,
        onOutcome: (outcome) => {
          recordEvent?.(outcome);
          // the rollout ended: its slot of the budget goes to the next in line at once
          if (outcome.workload) {
            budget.release(outcome.workload).catch((error: unknown) => {
              log.warn('rollout budget: slot not given back (freed when judged)', {
                error: String(error),
              });
            });
          }
        },
      }),
      log: log.child({ component: 'rollouts' }),
      onResult: (kind, result) => rollouts.inc({ kind, result }),
      labelSelector: labelSelector(scopeFromConfig(config)),
    })
  : undefined;
followingGauge(metrics.registry, () => tracker?.size ?? 0);

const readRollout = apiRolloutReader({ http, bucket, requests: kubeRequests });
const budget = createBudget({
  store: bucketBudgetStore(() => stage.context?.js),
  limits: { all: config.ROLLOUT_BUDGET, namespaces: config.ROLLOUT_BUDGET_NAMESPACES },
  readRollout,
});
const handle = createHandler({
  effects,
  windowMs: windowMs(config.COALESCE_WINDOW, ackWaitMs),
  scope: scopeFromConfig(config),
  outcomes: outcomeCounter(metrics.registry),
  coalesceMode: config.COALESCE_MODE,
  // a restart takes its API token first, then applies the latest push that arrived meanwhile
  turn: () => bucket.take(),
  pushToRestart: pushToRestartHistogram(metrics.registry),
  dryRun: config.ONPUSH_DRY_RUN,
  // After the outcome is on its way: following a rollout never delays a restart. Its span will
  // be a child of this restart's (the push's trace, as the notification's trace id).
  onRestarted: (request, result, trace) => {
    const restart = { traceparent: activeTraceparent() ?? trace.traceparent };
    setImmediate(() => tracker?.track(trackRequest(request, result, restart)));
  },
  onOutcome: (outcome, trace) => {
    recordEvent?.(outcome);
    // a workload left behind by a failed wave: people should hear of it as of the failure
    if (outcome.fate === 'halted') notifier?.notify(outcome, undefined, trace);
  },
  holds: bucketHolds(() => stage.context?.js),
  delays: { all: config.DELAY, namespaces: config.DELAY_NAMESPACES },
  approvalDefaults: {
    all: config.APPROVAL === 'required',
    namespaces: config.APPROVAL_NAMESPACES,
  },
  rollbackDefaults: { all: config.ROLLBACK === 'auto', namespaces: config.ROLLBACK_NAMESPACES },
  approvals: approvalsIn(lazyBucket(() => stage.context?.js, BUCKETS.approvals)),
  approvalTimeoutMs: config.APPROVAL_TIMEOUT,
  onAwaiting: (approval, trace) => {
    events?.recordEvent(eventOfApproval(approval));
    notifier?.announce(approvalNotification(approval, trace));
  },
  readRollout,
  budget,
  rolloutTimeoutMs: config.ROLLOUT_TIMEOUT,
  onRollback: (outcome, done, trace) => {
    if (done) {
      recordEvent?.(outcome);
      notifier?.notify(outcome, undefined, trace);
      return;
    }
    const event = eventOfRollbackUnavailable(outcome);
    if (event) events?.recordEvent(event);
    log.warn('rollout failed and cannot be rolled back', {
      workload: `${outcome.workload?.kind}/${outcome.workload?.namespace}/${outcome.workload?.name}`,
      detail: outcome.detail,
    });
  },
  waves: createWaves({
    store: bucketWaveStore(() => stage.context?.js),
    readRollout,
    rolloutTimeoutMs: config.ROLLOUT_TIMEOUT,
    waveTimeoutMs: config.WAVE_TIMEOUT,
    soaks: { all: config.SOAK, namespaces: config.SOAK_NAMESPACES },
    onDecided: recordWaveGate,
  }),
  ...(events
    ? {
        onHeld: (request, until) => events.recordEvent(eventOfHold(request, until)),
        onWaiting: (request, detail, why) => events.recordEvent(eventOfWait(request, detail, why)),
      }
    : {}),
});

/**
 * Follows again the rollouts a stopped restarter (a kill -9, an upgrade) left unfinished: the
 * restarts of the last ROLLOUT_TIMEOUT with no rollout outcome yet (rollout/recover.ts).
 */
function followUnfinished(js: JetStreamClient, following: Tracker): void {
  const since = new Date(Date.now() - config.ROLLOUT_TIMEOUT);
  readUnfinishedRollouts(js, since)
    .then((rollouts) => {
      if (rollouts.length > 0) {
        log.info('following again the rollouts left unfinished', { rollouts: rollouts.length });
      }
      for (const rollout of rollouts) following.track(rollout);
    })
    .catch((error: unknown) => {
      log.warn('rollouts left unfinished not looked for', { error: String(error) });
    });
}

const stage = defineStage({
  stage: 'restarter',
  ...settings,
  start: (ctx) => {
    const stopDeadLetters = notifier ? notifyDeadLetters(ctx.nc, notifier, log) : undefined;
    if (tracker) followUnfinished(ctx.js, tracker);
    return {
      handle,
      close: async () => {
        await tracker?.stop();
        await events?.close();
        stopDeadLetters?.();
        await notifier?.close();
      },
    };
  },
});

await runService({
  name: 'restarter',
  port: config.PORT,
  host: config.BIND_ADDRESS,
  log,
  metrics,
  effects: stage,
});
process.exit(0);
