// @onpush/config: a service's configuration as a pure, schema-checked function of its
// environment, with field helpers for the usual variable shapes.
export { loadConfig, configOrExit, orExit, ConfigError, formatProblem, EX_CONFIG } from './load.js';
export type { Env, ConfigProblem } from './load.js';
export {
  secret,
  isSecret,
  url,
  host,
  port,
  duration,
  bool,
  int,
  list,
  enumOf,
  perNamespace,
  parsedBy,
} from './fields.js';
// The one redaction of URL credentials, shared with the logger (@onpush/telemetry).
export { redactUrls } from '@onpush/contracts';
