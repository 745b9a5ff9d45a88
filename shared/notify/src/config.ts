// Where notifications go, from the environment:
//   NOTIFY_TARGETS     name=kind:url, comma-separated. Kinds (formats.ts): `webhook` (onpush's
//                      JSON), `slack` (a Slack-compatible incoming webhook: Slack, Rocket.Chat,
//                      ...), `teams` (a Microsoft Teams Workflows webhook: an Adaptive Card),
//                      `discord` (a Discord webhook: an embed), `mattermost` (a Mattermost incoming
//                      webhook: Mattermost markdown), `cloudevents` (CloudEvents 1.0 over HTTP,
//                      CDEvents types where they fit) — each an http(s) URL — and `smtp` (e-mail:
//                      smtp[s]://user:pass@host:port/?from=a@b&to=c@d,e@f).
//                      Secret: the URLs carry the webhooks' tokens and the SMTP passwords, so they
//                      are never printed.
//   NOTIFY_DEFAULT     target names for what no namespace route or workload annotation names
//   NOTIFY_NAMESPACES  namespace=name|name, comma-separated: the targets of one namespace
//   NOTIFY_ALLOWED     namespace=name|name, comma-separated: targets a namespace's workloads may
//                      name in their annotation besides its route and the default (`*=name`: every
//                      namespace may)
//   NOTIFY_ON          which events notify: rollout-completed, rollout-failed, rolled-back, halted,
//                      approval
//                      (a restart waits for approval), dead (default: all)
// A workload's `onpush.dev/notify` annotation names targets too (or `none`), and wins — among the
// targets its namespace may use: its route, the default and what NOTIFY_ALLOWED grants it.
import { z } from 'zod';
import { duration, enumOf, int, list, secret } from '@onpush/config';

export const TARGET_KINDS = [
  'webhook',
  'slack',
  'teams',
  'discord',
  'mattermost',
  'cloudevents',
  'smtp',
] as const;
export type TargetKind = (typeof TARGET_KINDS)[number];

const KINDS_TEXT = `${TARGET_KINDS.slice(0, -1).join(', ')} or ${TARGET_KINDS.at(-1)}`;

export interface Target {
  readonly name: string;
  readonly kind: TargetKind;
  readonly url: string;
}

export const NOTIFY_EVENTS = [
  'rollout-completed',
  'rollout-failed',
  'rolled-back',
  'halted',
  'approval',
  'dead',
] as const;
export type NotifyEvent = (typeof NOTIFY_EVENTS)[number];

const NAME = /^[a-z0-9](?:[a-z0-9_-]{0,62})$/;

/** Mail of an `smtp` target: where it is sent from and to, and how the server is reached. */
export interface SmtpSettings {
  readonly host: string;
  readonly port: number;
  /** `smtps://`: TLS from the start (port 465 by default); `smtp://`: STARTTLS when offered. */
  readonly secure: boolean;
  readonly auth?: { readonly user: string; readonly pass: string } | undefined;
  readonly from: string;
  readonly to: readonly string[];
}

// One address, as a mail client accepts it: no display name, nothing that could end a header.
const ADDRESS = /^[^\s@<>,;"]+@[^\s@<>,;"]+$/;

/**
 * `smtp[s]://user:pass@host:port/?from=a@b&to=c@d,e@f` → its settings, or why not (never the URL:
 * it carries the password). The user and password are percent-decoded.
 */
export function smtpSettings(url: string): SmtpSettings | string {
  if (!URL.canParse(url)) return 'not an smtp:// or smtps:// URL';
  const parsed = new URL(url);
  if (parsed.protocol !== 'smtp:' && parsed.protocol !== 'smtps:') {
    return 'not an smtp:// or smtps:// URL';
  }
  if (parsed.hostname === '') return 'the smtp URL names no host';
  const secure = parsed.protocol === 'smtps:';
  const from = parsed.searchParams.get('from')?.trim() ?? '';
  const to = (parsed.searchParams.get('to') ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  if (!ADDRESS.test(from)) return 'the smtp URL needs ?from=<address>';
  if (to.length === 0 || !to.every((a) => ADDRESS.test(a))) {
    return 'the smtp URL needs &to=<address>[,<address>...]';
  }
  let auth: SmtpSettings['auth'];
  try {
    auth =
      parsed.username !== ''
        ? {
            user: decodeURIComponent(parsed.username),
            pass: decodeURIComponent(parsed.password),
          }
        : undefined;
  } catch {
    return 'the smtp URL has a badly percent-encoded user or password';
  }
  return {
    host: parsed.hostname.replace(/^\[(.*)\]$/, '$1'),
    port: parsed.port !== '' ? Number(parsed.port) : secure ? 465 : 587,
    secure,
    auth,
    from,
    to,
  };
}

function parseTarget(item: string, index: number): Target | string {
  const eq = item.indexOf('=');
  const colon = item.indexOf(':', eq + 1);
  if (eq < 1 || colon < 0) return `must be name=kind:<url>, kind one of ${KINDS_TEXT}`;
  const name = item.slice(0, eq).trim();
  const kind = item.slice(eq + 1, colon).trim();
  const url = item.slice(colon + 1).trim();
  // Not echoed: a malformed item may have cut a URL (and its token) into the "name".
  if (!NAME.test(name)) {
    return `target ${index + 1}: its name must be lower-case letters, digits, - or _`;
  }
  if (!(TARGET_KINDS as readonly string[]).includes(kind)) {
    return `target ${name}: kind must be ${KINDS_TEXT}`;
  }
  if (kind === 'smtp') {
    const smtp = smtpSettings(url);
    if (typeof smtp === 'string') return `target ${name}: ${smtp}`;
  } else if (!URL.canParse(url) || !/^https?:$/.test(new URL(url).protocol)) {
    return `target ${name}: not an http(s) URL`;
  }
  return { name, kind: kind as TargetKind, url };
}

/** `name=kind:` at the start of an item of NOTIFY_TARGETS: `smtp`, or the kind of another item. */
const SMTP_ITEM = /^[^=,]*=\s*smtp\s*:/;
const ITEM_START = new RegExp(`^[^=,]*=\\s*(?:${TARGET_KINDS.join('|')})\\s*:`);

/**
 * The items of NOTIFY_TARGETS: split at commas, except that an smtp URL keeps the commas of its
 * recipient list (`...&to=a@x,b@y`) — what follows one of its commas and does not start another
 * target (`name=kind:`) is still its.
 */
function targetItems(raw: string): string[] {
  const items: string[] = [];
  for (const part of raw.split(',')) {
    const last = items.at(-1);
    if (last !== undefined && SMTP_ITEM.test(last) && !ITEM_START.test(part.trim())) {
      items[items.length - 1] = `${last},${part}`;
    } else items.push(part);
  }
  return items.map((s) => s.trim()).filter(Boolean);
}

/** NOTIFY_TARGETS: the URLs never appear in an error (secret). */
export function targetsField() {
  return secret(
    z.string().transform((raw, ctx): Target[] => {
      const targets: Target[] = [];
      const items = targetItems(raw);
      for (const [index, item] of items.entries()) {
        const parsed = parseTarget(item, index);
        if (typeof parsed === 'string')
          ctx.issues.push({ code: 'custom', message: parsed, input: '' });
        else targets.push(parsed);
      }
      return targets;
    }),
  );
}

/** NOTIFY_NAMESPACES: `shop=slack-shop|ops,blog=ops`. */
export function routesField() {
  return z.string().transform((raw, ctx): Record<string, string[]> => {
    const routes: Record<string, string[]> = {};
    for (const item of raw
      .split(',')
      .map((s) => s.trim())
      .filter(Boolean)) {
      const [namespace = '', names = ''] = item.split('=', 2).map((s) => s.trim());
      const list = names
        .split('|')
        .map((s) => s.trim())
        .filter(Boolean);
      if (namespace === '' || list.length === 0) {
        ctx.issues.push({
          code: 'custom',
          message: `"${item}" must be namespace=target|target`,
          input: raw,
        });
      } else routes[namespace] = list;
    }
    return routes;
  });
}

/** The notification variables, for a service schema to extend. */
export const notifyFields = {
  NOTIFY_TARGETS: targetsField().default([]),
  NOTIFY_DEFAULT: list().default([]),
  NOTIFY_NAMESPACES: routesField().default({}),
  NOTIFY_ALLOWED: routesField().default({}),
  NOTIFY_ON: list(enumOf(NOTIFY_EVENTS)).default([...NOTIFY_EVENTS]),
  /** Notifications waiting at most; more are dropped (counted, logged). */
  NOTIFY_QUEUE: int({ min: 1, max: 100_000 }).default(1_000),
  /** Waits before each retry of a failed delivery; the count is the retries. */
  NOTIFY_RETRIES: list(duration({ min: 0, max: 3_600_000 })).default([1_000, 5_000, 30_000]),
  NOTIFY_TIMEOUT: duration({ min: 100, max: 60_000 }).default(5_000),
};

export interface NotifyConfig {
  readonly NOTIFY_TARGETS: readonly Target[];
  readonly NOTIFY_DEFAULT: readonly string[];
  readonly NOTIFY_NAMESPACES: Readonly<Record<string, readonly string[]>>;
  readonly NOTIFY_ALLOWED: Readonly<Record<string, readonly string[]>>;
  readonly NOTIFY_ON: readonly NotifyEvent[];
  readonly NOTIFY_QUEUE: number;
  readonly NOTIFY_RETRIES: readonly number[];
  readonly NOTIFY_TIMEOUT: number;
}

/** Route names that name no target, as config problems (for a schema's superRefine). */
export function unknownTargets(
  config: Pick<NotifyConfig, 'NOTIFY_TARGETS' | 'NOTIFY_DEFAULT' | 'NOTIFY_NAMESPACES'> &
    Partial<Pick<NotifyConfig, 'NOTIFY_ALLOWED'>>,
): { variable: string; message: string }[] {
  const known = new Set(config.NOTIFY_TARGETS.map((t) => t.name));
  const problems: { variable: string; message: string }[] = [];
  for (const name of config.NOTIFY_DEFAULT) {
    if (!known.has(name))
      problems.push({
        variable: 'NOTIFY_DEFAULT',
        message: `no target named ${name} in NOTIFY_TARGETS`,
      });
  }
  const perNamespace = [
    ['NOTIFY_NAMESPACES', config.NOTIFY_NAMESPACES],
    ['NOTIFY_ALLOWED', config.NOTIFY_ALLOWED ?? {}],
  ] as const;
  for (const [variable, routes] of perNamespace) {
    for (const [namespace, names] of Object.entries(routes)) {
      for (const name of names) {
        if (!known.has(name)) {
          problems.push({
            variable,
            message: `${namespace}: no target named ${name} in NOTIFY_TARGETS`,
          });
        }
      }
    }
  }
  return problems;
}
