// @onpush/notify: notifications of rollout outcomes, approvals and dead letters where teams are —
// onpush's own JSON to a generic webhook, Slack-compatible incoming webhooks, Microsoft Teams
// (an Adaptive Card through a Workflows webhook), Discord (an embed), Mattermost (its markdown),
// CloudEvents 1.0 over HTTP (CDEvents types where they fit) and e-mail over SMTP (nodemailer) —
// each in that product's own format (formats.ts), carrying the push's trace id; routed per
// namespace or per workload, queued, retried, never blocking the pipeline.
export {
  TARGET_KINDS,
  NOTIFY_EVENTS,
  notifyFields,
  targetsField,
  routesField,
  smtpSettings,
  unknownTargets,
  type Target,
  type TargetKind,
  type SmtpSettings,
  type NotifyEvent,
  type NotifyConfig,
} from './config.js';
export {
  notificationOf,
  approvalNotification,
  routeOf,
  traceOf,
  type Notification,
  type TraceContext,
  type Routed,
} from './message.js';
export {
  bodyFor,
  requestFor,
  escapeSlack,
  escapeDiscord,
  escapeMattermost,
  webhookBody,
  teamsBody,
  discordBody,
  mattermostBody,
  cloudEventOf,
  cloudEventType,
  mailOf,
  notificationId,
  DISCORD_LIMITS,
  type HttpRequest,
  type Mail,
} from './formats.js';
export {
  createNotifier,
  notificationCounter,
  type Notifier,
  type NotifierOptions,
  type DeliveryResult,
} from './notifier.js';
