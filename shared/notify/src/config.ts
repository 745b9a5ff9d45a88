// Where notifications go, from the environment:
//   NOTIFY_TARGETS     name=kind:url, comma-separated; kind `webhook` (onpush's JSON) or `slack`
//                      (a Slack-compatible incoming webhook: Slack, Mattermost, Rocket.Chat, ...).
//                      Secret: the URLs carry the webhooks' tokens, so they are never printed.
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

export const TARGET_KINDS = ['webhook', 'slack'] as const;
export type TargetKind = (typeof TARGET_KINDS)[number];

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

function parseTarget(item: string): Target | string {
  const eq = item.indexOf('=');
  const colon = item.indexOf(':', eq + 1);
  if (eq < 1 || colon < 0) return 'must be name=webhook:<url> or name=slack:<url>';
  const name = item.slice(0, eq).trim();
  const kind = item.slice(eq + 1, colon).trim();
  const url = item.slice(colon + 1).trim();
  if (!NAME.test(name)) return `target name "${name}" must be lower-case letters, digits, - or _`;
  if (!(TARGET_KINDS as readonly string[]).includes(kind)) {
    return `target ${name}: kind must be webhook or slack`;
  }
  if (!URL.canParse(url) || !/^https?:$/.test(new URL(url).protocol)) {
    return `target ${name}: not an http(s) URL`;
  }
  return { name, kind: kind as TargetKind, url };
}

/** NOTIFY_TARGETS: the URLs never appear in an error (secret). */
export function targetsField() {
  return secret(
    z.string().transform((raw, ctx): Target[] => {
      const targets: Target[] = [];
      for (const item of raw
        .split(',')
        .map((s) => s.trim())
        .filter(Boolean)) {
        const parsed = parseTarget(item);
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
