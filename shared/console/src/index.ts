// @onpush/console: the web console (live pushes and their fates per workload, a workload's
// restarts, dead letters, health) as HTTP routes that a service (the dlq-manager) and the CLI
// (`onpush console`) both serve; and the status collection `onpush status` prints.
export { consoleRoutes, CONSOLE_PATH, type ConsoleOptions, type ConsoleRoutes } from './routes.js';
export { dlqRoutes } from './dlq-routes.js';
export {
  onDemandFeed,
  startPushFeed,
  pushStore,
  recordOf,
  traceIdOf,
  type PushFeed,
  type FeedOptions,
  type PushListener,
} from './feed.js';
export {
  foldOutcome,
  matchesPush,
  parsePushFilter,
  sourceOf,
  workloadKey,
  PushFilterError,
  type Push,
  type PushFilter,
  type WorkloadFate,
  type OutcomeRecord,
} from './pushes.js';
export {
  workloadEvents,
  resolverReader,
  parseWorkloadRef,
  type WorkloadView,
  type WorkloadEvent,
  type WorkloadReader,
  type WorkloadSettingsView,
} from './workload.js';
export { consoleFields, consoleSchema, traceUrl, traceLink, type ConsoleConfig } from './config.js';
export { WEB_DIR } from './shell.js';
export {
  gatherStatus,
  serviceUrls,
  configuredServiceUrls,
  serviceUrlVariable,
  leafState,
  fatesSince,
  SERVICES,
  DEFAULT_PORTS,
  type ServiceName,
  type ServiceHealth,
  type ConsumerLag,
  type StatusReport,
  type StatusOptions,
} from './status.js';
