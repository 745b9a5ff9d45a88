import type { ConfigProblem } from '@onpush/config';
import { endpointSchema } from './endpoint-schema.js';
import { resolveEndpoint, type Endpoint, type SecretReader } from './endpoints.js';

export interface WebhooksLoaded {
  /** The configured endpoints; undefined when neither WEBHOOKS nor WEBHOOKS_FILE is set. */
  endpoints: Endpoint[] | undefined;
  problems: ConfigProblem[];
}

function describe(item: unknown, index: number): string {
  const name = (item as { name?: unknown } | null)?.name;
  return typeof name === 'string' && name.length <= 64
    ? `endpoint ${JSON.stringify(name)} (item ${index + 1})`
    : `endpoint item ${index + 1}`;
}

/** The text of the configuration and the variable it came from, or a problem. */
function source(
  io: SecretReader,
): { variable: string; text?: string; problem?: string } | undefined {
  const inline = io.env['WEBHOOKS'];
  const file = io.env['WEBHOOKS_FILE'];
  if (inline && file)
    return { variable: 'WEBHOOKS', problem: 'set WEBHOOKS or WEBHOOKS_FILE, not both' };
  if (inline) return { variable: 'WEBHOOKS', text: inline };
  if (!file) return undefined;
  try {
    return { variable: 'WEBHOOKS_FILE', text: io.readFile(file) };
  } catch (error) {
    const code = (error as { code?: unknown }).code;
    return { variable: 'WEBHOOKS_FILE', problem: `cannot read ${file} (${String(code ?? error)})` };
  }
}

function items(text: string): { list?: unknown[]; problem?: string } {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (error) {
    return { problem: `not JSON: ${(error as Error).message}` };
  }
  const list = Array.isArray(parsed)
    ? parsed
    : (parsed as { endpoints?: unknown } | null)?.endpoints;
  if (!Array.isArray(list))
    return { problem: 'must be a JSON array of endpoints, or {"endpoints": [...]}' };
  if (list.length === 0) return { problem: 'lists no endpoint' };
  return { list };
}

function checkItem(
  item: unknown,
  index: number,
  io: SecretReader,
  defaults: { maxBodyBytes: number },
): { endpoint?: Endpoint; problems: string[] } {
  const parsed = endpointSchema.safeParse(item);
  const where = describe(item, index);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((issue) => {
      const path = issue.path.map(String).join('.');
      return `${where}: ${path === '' ? '' : `${path}: `}${issue.message}`;
    });
    return { problems };
  }
  const found: string[] = [];
  const endpoint = resolveEndpoint(parsed.data, io, defaults, found);
  return { ...(endpoint ? { endpoint } : {}), problems: found.map((p) => `${where}: ${p}`) };
}

/**
 * The webhook endpoints from `WEBHOOKS` (inline JSON) or `WEBHOOKS_FILE` (a JSON file), with
 * their secrets read from files or the environment. Every problem is listed, one line each,
 * naming the variable and the endpoint; secret values never appear.
 */
export function loadWebhooks(io: SecretReader, defaults: { maxBodyBytes: number }): WebhooksLoaded {
  const from = source(io);
  if (from === undefined) return { endpoints: undefined, problems: [] };
  const problem = (message: string): ConfigProblem => ({ variable: from.variable, message });
  if (from.text === undefined)
    return { endpoints: undefined, problems: [problem(from.problem ?? '')] };
  const { list, problem: invalid } = items(from.text);
  if (list === undefined) return { endpoints: undefined, problems: [problem(invalid ?? '')] };
  const endpoints: Endpoint[] = [];
  const problems: ConfigProblem[] = [];
  const seen = new Set<string>();
  list.forEach((item, index) => {
    const checked = checkItem(item, index, io, defaults);
    const name = (item as { name?: unknown } | null)?.name;
    if (typeof name === 'string' && seen.has(name))
      checked.problems.push(`${describe(item, index)}: name: used by another endpoint`);
    if (typeof name === 'string') seen.add(name);
    problems.push(...checked.problems.map(problem));
    if (checked.endpoint && checked.problems.length === 0) endpoints.push(checked.endpoint);
  });
  return { endpoints, problems };
}
