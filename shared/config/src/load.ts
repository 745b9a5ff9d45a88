// Configuration is a pure function of the environment, checked by a schema whose keys are the
// variable names. Every problem is reported at once, one line each, naming the variable.
import { OnpushError, redactUrls } from '@onpush/contracts';
import type { z } from 'zod';
import { isSecret } from './fields.js';

export type Env = Readonly<Record<string, string | undefined>>;

export interface ConfigProblem {
  readonly variable: string;
  readonly message: string;
}

/** `VARIABLE: message`, the one line printed per problem. */
export function formatProblem(problem: ConfigProblem): string {
  return `${problem.variable}: ${problem.message}`;
}

export class ConfigError extends OnpushError {
  override readonly name = 'ConfigError';
  constructor(readonly problems: readonly ConfigProblem[]) {
    super(problems.map(formatProblem).join('\n'), { type: 'invalid_config', retryable: false });
  }
}

/** The exit code for a configuration error (sysexits.h EX_CONFIG). */
export const EX_CONFIG = 78;

const SHOWN_CHARS = 80;

/**
 * Reads the variables named by `schema`'s keys from `env` and checks them. An empty value
 * counts as unset (so `FOO=` in a compose file gets the default, or is reported as required).
 * Throws ConfigError listing every problem; secret values never appear in it.
 */
export function loadConfig<S extends z.ZodObject>(schema: S, env: Env): z.output<S> {
  const raw: Record<string, string | undefined> = {};
  for (const variable of Object.keys(schema.shape)) {
    const value = env[variable];
    if (value !== undefined && value !== '') raw[variable] = value;
  }
  const result = schema.safeParse(raw);
  if (result.success) return result.data;
  const problems = result.error.issues.map((issue) => toProblem(issue, schema, raw));
  throw new ConfigError(problems);
}

function toProblem(
  issue: z.core.$ZodIssue,
  schema: z.ZodObject,
  raw: Readonly<Record<string, string | undefined>>,
): ConfigProblem {
  const [first, ...rest] = issue.path;
  const variable = first === undefined ? '(config)' : String(first);
  const value = raw[variable];
  const missing = issue.code === 'invalid_type' || issue.code === 'invalid_value';
  if (value === undefined && missing && rest.length === 0) {
    return { variable, message: 'required' };
  }
  const fields: Readonly<Record<string, z.ZodType | undefined>> = schema.shape;
  const field = fields[variable];
  const hidden = field !== undefined && isSecret(field);
  const where = rest.length > 0 ? `${describePath(rest)}: ` : '';
  if (hidden) {
    const message = value === undefined ? issue.message : issue.message.replaceAll(value, '***');
    return { variable, message: `${where}${message} (value not shown: secret)` };
  }
  // A URL's credentials are not shown either, whatever the field.
  const got = value === undefined ? '' : ` (got ${JSON.stringify(shorten(redactUrls(value)))})`;
  return { variable, message: `${where}${redactUrls(issue.message)}${got}` };
}

function describePath(path: readonly PropertyKey[]): string {
  return path.map((key) => (typeof key === 'number' ? `item ${key + 1}` : String(key))).join('.');
}

function shorten(value: string): string {
  return value.length > SHOWN_CHARS ? `${value.slice(0, SHOWN_CHARS)}…` : value;
}

/**
 * Runs `load` for a service's start; on a ConfigError it writes `<name>: invalid configuration`
 * and one line per problem to stderr, then exits with EX_CONFIG (78). The one place a
 * configuration problem ends a process; the only function in this package that touches `process`.
 */
export function orExit<T>(name: string, load: () => T): T {
  try {
    return load();
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    const lines = error.problems.map((problem) => `  ${formatProblem(problem)}\n`).join('');
    process.stderr.write(`${name}: invalid configuration\n${lines}`);
    process.exit(EX_CONFIG);
  }
}

/** loadConfig for a service's main: a problem ends the process (orExit). */
export function configOrExit<S extends z.ZodObject>(
  schema: S,
  env: Env,
  name: string,
): z.output<S> {
  return orExit(name, () => loadConfig(schema, env));
}
