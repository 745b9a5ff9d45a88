export { Supervisor, restartDelayMs, type SupervisorOptions } from './supervisor.js';
export { SERVICES, DEFAULT_PORTS, type ServiceName } from './services.js';
export {
  reconcile,
  replayedKeys,
  parentEvent,
  letterKeyOf,
  type AuditInput,
  type AuditReport,
  type Finding,
  type FindingKind,
  type RawRecord,
  type PushedRecord,
  type RequestRecord,
  type FateRecord,
  type DeadLetterRecord,
  type ConsumerState,
} from './audit.js';
export { readAuditInput, msgIdOf, consumerState, type AuditData } from './audit-read.js';
export {
  audit,
  auditUrl,
  auditFleet,
  type ClusterAudit,
  auditCommand,
  formatAudit,
  AUDIT_USAGE,
  type AuditResult,
  type AuditOptions,
} from './audit-command.js';
