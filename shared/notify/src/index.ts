// @onpush/notify: notifications of rollout outcomes and dead letters to generic webhooks and
// Slack-compatible incoming webhooks — routed per namespace or per workload, queued, retried,
// never blocking the pipeline.
export {
  TARGET_KINDS,
  NOTIFY_EVENTS,
  notifyFields,
  targetsField,
  routesField,
  unknownTargets,
  type Target,
  type TargetKind,
  type NotifyEvent,
  type NotifyConfig,
} from './config.js';
export {
  notificationOf,
  approvalNotification,
  bodyFor,
  escapeSlack,
  routeOf,
  type Notification,
  type Routed,
} from './message.js';
export {
  createNotifier,
  notificationCounter,
  type Notifier,
  type NotifierOptions,
  type DeliveryResult,
} from './notifier.js';
