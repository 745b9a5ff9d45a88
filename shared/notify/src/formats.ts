// How each kind of target receives a notification: pure functions from a Notification to the
// body of that product's API (no I/O here; the notifier sends them).
//   webhook      onpush's own JSON: {v, type, text, outcome | approval, traceId}
//   slack        {text}, Slack's control characters &, < and > escaped
//   teams        a Teams message with an Adaptive Card 1.4 (Workflows "Post to a channel when a
//                webhook request is received"); every piece of data in a TextRun, which Teams
//                shows literally (no markdown)
//   discord      an embed (title, description, colour, fields, timestamp) within Discord's limits,
//                markdown escaped, `allowed_mentions: {parse: []}`: nothing pings anyone
//   mattermost   {text} in Mattermost markdown: escaped with backslashes (not Slack's entities,
//                which Mattermost shows as they are), and no @-mention it would notify
//   cloudevents  a CloudEvent 1.0 in HTTP binary mode, CDEvents where a type fits
//   smtp         an e-mail: a short subject and a plain-text body
import { createHash } from 'node:crypto';
import { CloudEvent, HTTP } from 'cloudevents';
import type { Approval, Outcome } from '@onpush/contracts';
import type { NotifyEvent, TargetKind } from './config.js';
import type { Notification } from './message.js';

/** An HTTP request body and its headers (content type, CloudEvents attributes). */
export interface HttpRequest {
  readonly headers: Readonly<Record<string, string>>;
  readonly body: string;
}

/** One e-mail, as nodemailer's sendMail takes it. */
export interface Mail {
  readonly from: string;
  readonly to: readonly string[];
  readonly subject: string;
  readonly text: string;
  readonly messageId: string;
  readonly headers: Readonly<Record<string, string>>;
}

const TITLES: Record<NotifyEvent, { icon: string; title: string }> = {
  'rollout-completed': { icon: '✅', title: 'Rollout completed' },
  'rollout-failed': { icon: '❌', title: 'Rollout failed' },
  'rolled-back': { icon: '↩️', title: 'Rolled back' },
  halted: { icon: '⏸️', title: 'Not restarted: wave halted' },
  approval: { icon: '✋', title: 'Waiting for approval' },
  dead: { icon: '⚠️', title: 'Dead letter' },
};

/** The longest summary (an outcome's detail is in it) a format other than webhook carries. */
const MAX_SUMMARY = 2_500;

/** At most `max` UTF-16 units, cut on a code point (and before a dangling escape), with `…`. */
export function clip(text: string, max: number): string {
  if (text.length <= max) return text;
  let cut = text.slice(0, Math.max(0, max - 1));
  if (/[\uD800-\uDBFF]$/.test(cut)) cut = cut.slice(0, -1);
  // An odd run of backslashes at the end would escape the ellipsis (markdown formats).
  const slashes = /\\+$/.exec(cut)?.[0].length ?? 0;
  if (slashes % 2 === 1) cut = cut.slice(0, -1);
  return `${cut}…`;
}

const workloadKey = (w: { kind: string; namespace: string; name: string }): string =>
  `${w.kind}/${w.namespace}/${w.name}`;

function imageOf(x: Pick<Outcome, 'image' | 'tag' | 'digest'>): string | undefined {
  if (x.image === undefined) return undefined;
  return `${x.image}${x.tag !== undefined ? `:${x.tag}` : ''}${x.digest !== undefined ? `@${x.digest}` : ''}`;
}

const duration = (ms: number): string =>
  ms < 10_000 ? `${(ms / 1000).toFixed(1)} s` : `${Math.round(ms / 1000)} s`;

/** The workload a notification is about, as people read it: `Deployment shop/web`. */
function workloadOf(n: Notification): string | undefined {
  const w = n.outcome?.workload ?? n.approval?.workload;
  return w ? `${w.kind} ${w.namespace}/${w.name}` : undefined;
}

/**
 * A stable id of the notification: the same for every delivery of it (a retry, a redelivered
 * dead outcome), so a receiver recognises a repeat — the CloudEvent id, the e-mail's Message-ID.
 */
export function notificationId(n: Notification): string {
  if (n.approval) return `${n.approval.eventId}:${workloadKey(n.approval.workload)}:approval`;
  const o = n.outcome;
  if (!o) return `${n.event}:${createHash('sha256').update(n.text).digest('hex').slice(0, 16)}`;
  const what = o.workload ? workloadKey(o.workload) : o.stage;
  return `${o.eventId}:${what}:${o.fate}`;
}

/** When it happened: the outcome's time, or when the restart started waiting for approval. */
export function timeOf(n: Notification): string {
  return n.outcome?.at ?? n.approval?.requestedAt ?? new Date(0).toISOString();
}

/**
 * Label and value of each fact about the notification, in the order people read them (its detail
 * is in its text, the summary every format shows first).
 */
export function factsOf(n: Notification): [label: string, value: string][] {
  const facts: [string, string | undefined][] = [
    ['Workload', workloadOf(n)],
    ['Cluster', n.cluster],
  ];
  const o = n.outcome;
  const a: Approval | undefined = n.approval;
  if (o) {
    facts.push(['Image', imageOf(o)]);
    facts.push(['Outcome', `${o.fate}${o.reason !== undefined ? ` (${o.reason})` : ''}`]);
    if (o.fate === 'dead') facts.push(['Stage', o.stage]);
    facts.push(['Duration', o.durationMs !== undefined ? duration(o.durationMs) : undefined]);
    facts.push(['Event', o.eventId]);
  }
  if (a) {
    facts.push(['Image', imageOf(a)]);
    facts.push(['Wave', a.wave !== undefined ? String(a.wave) : undefined]);
    facts.push(['Approve', `onpush approve ${a.id} (or onpush reject ${a.id})`]);
    facts.push(['Deadline', a.deadline]);
    facts.push(['Event', a.eventId]);
  }
  facts.push(['Trace', n.traceId]);
  facts.push(['At', timeOf(n)]);
  return facts.filter((f): f is [string, string] => f[1] !== undefined && f[1] !== '');
}

/** The line people read first: the notification's text, its detail cut to a sane length. */
const summaryOf = (n: Notification): string => clip(n.text, MAX_SUMMARY);

// --- webhook, slack -------------------------------------------------------------------------

/**
 * Text as Slack shows it literally: `&`, `<` and `>` are its control characters (links, mentions
 * such as `<!channel>`), escaped as `&amp;`, `&lt;`, `&gt;` — nothing else is decoded.
 */
export function escapeSlack(text: string): string {
  return text.replaceAll('&', '&amp;').replaceAll('<', '&lt;').replaceAll('>', '&gt;');
}

/** onpush's own JSON (a generic webhook; a CloudEvent's data). */
export function webhookBody(n: Notification) {
  const { event, text, outcome, approval, traceId, cluster } = n;
  return {
    v: 1 as const,
    type: event,
    text,
    ...(cluster !== undefined ? { cluster } : {}),
    ...(outcome !== undefined ? { outcome } : {}),
    ...(approval !== undefined ? { approval } : {}),
    ...(traceId !== undefined ? { traceId } : {}),
  };
}

// --- teams ----------------------------------------------------------------------------------

const TEAMS_COLOR: Record<NotifyEvent, string> = {
  'rollout-completed': 'Good',
  'rollout-failed': 'Attention',
  'rolled-back': 'Warning',
  halted: 'Warning',
  approval: 'Accent',
  dead: 'Attention',
};

/** A TextRun: Adaptive Cards show its text as is — no markdown, unlike a TextBlock's. */
const run = (text: string, bold = false) => ({
  type: 'TextRun',
  text,
  ...(bold ? { weight: 'Bolder' } : {}),
});

/**
 * A Teams message with one Adaptive Card 1.4: the title (onpush's own words, the only TextBlock),
 * then the summary and one line per fact, every piece of data in a RichTextBlock's TextRun so
 * Teams shows it literally (`**`, `[x](url)`, `<at>` stay text).
 */
export function teamsBody(n: Notification) {
  const { icon, title } = TITLES[n.event];
  return {
    type: 'message',
    attachments: [
      {
        contentType: 'application/vnd.microsoft.card.adaptive',
        contentUrl: null,
        content: {
          $schema: 'http://adaptivecards.io/schemas/adaptive-card.json',
          type: 'AdaptiveCard',
          version: '1.4',
          msteams: { width: 'Full' },
          body: [
            {
              type: 'TextBlock',
              text: `${icon} ${title}`,
              weight: 'Bolder',
              size: 'Medium',
              color: TEAMS_COLOR[n.event],
              wrap: true,
            },
            { type: 'RichTextBlock', inlines: [run(summaryOf(n))] },
            ...factsOf(n).map(([label, value], i) => ({
              type: 'RichTextBlock',
              ...(i === 0 ? { separator: true } : { spacing: 'None' }),
              inlines: [run(`${label}: `, true), run(value)],
            })),
          ],
        },
      },
    ],
  };
}

// --- discord --------------------------------------------------------------------------------

/** Discord's limits on one message (its API refuses more). */
export const DISCORD_LIMITS = {
  content: 2_000,
  title: 256,
  description: 4_096,
  fields: 25,
  fieldName: 256,
  fieldValue: 1_024,
  footer: 2_048,
  /** Title, description, field names and values, footer and author of all embeds together. */
  embedTotal: 6_000,
} as const;

const DISCORD_COLOR: Record<NotifyEvent, number> = {
  'rollout-completed': 0x2eb67d,
  'rollout-failed': 0xe01e5a,
  'rolled-back': 0xecb22e,
  halted: 0xecb22e,
  approval: 0x36c5f0,
  dead: 0x8b0000,
};

/**
 * A list item's mark at a line start (`- `, `+ `, `1. `): its mark (the dot of a number) is
 * escaped — a backslash before a digit would be shown, not taken as an escape.
 */
const LIST_ITEM = /^(\s*)(\d*)([-+.])(?=\s|$)/gm;

/**
 * Text as Discord shows it literally: its inline markdown characters backslash-escaped, and a
 * line start that would make a heading, a quote or a list. (Mentions are not escaped: the
 * message's `allowed_mentions` keeps them from pinging.)
 */
export function escapeDiscord(text: string): string {
  return text
    .replace(/[\\`*_~|[\]()<>]/g, '\\$&')
    .replace(/^(\s*)#/gm, '$1\\#')
    .replace(LIST_ITEM, '$1$2\\$3');
}

/** A Discord webhook message: one embed, within every limit Discord sets. */
export function discordBody(n: Notification) {
  const { icon, title } = TITLES[n.event];
  const L = DISCORD_LIMITS;
  const fields = factsOf(n)
    .slice(0, L.fields)
    .map(([name, value]) => ({
      name: clip(name, L.fieldName),
      value: clip(escapeDiscord(value), L.fieldValue),
      inline: value.length <= 40,
    }));
  const footer = 'onpush';
  const head = clip(`${icon} ${title}`, L.title);
  const used =
    head.length +
    footer.length +
    fields.reduce((sum, f) => sum + f.name.length + f.value.length, 0);
  const room = Math.min(L.description, L.embedTotal - used);
  return {
    username: 'onpush',
    allowed_mentions: { parse: [] as string[] },
    embeds: [
      {
        title: head,
        description: clip(escapeDiscord(n.text), Math.max(1, room)),
        color: DISCORD_COLOR[n.event],
        fields,
        timestamp: timeOf(n),
        footer: { text: footer },
      },
    ],
  };
}

// --- mattermost -----------------------------------------------------------------------------

/** Mattermost refuses longer posts (its server's limit). */
export const MATTERMOST_MAX = 16_383;

/**
 * Text as Mattermost shows it literally: its markdown characters backslash-escaped, a line start
 * that would make a heading, quote or list, and a zero-width space after each `@` that starts a
 * word, so no `@channel`, `@here`, `@all` or `@user` in the data notifies anyone (Mattermost
 * finds mentions in the raw text, backslashes or not).
 */
export function escapeMattermost(text: string): string {
  return text
    .replace(/[\\`*_~|[\]()<>!#]/g, '\\$&')
    .replace(LIST_ITEM, '$1$2\\$3')
    .replace(/@(?=[\p{L}\p{N}_.-])/gu, '@\u200b');
}

/** A Mattermost incoming webhook's `{text}`: a heading, the summary, then one line per fact. */
export function mattermostBody(n: Notification) {
  const { icon, title } = TITLES[n.event];
  const facts = factsOf(n).map(([label, value]) => `- **${label}:** ${escapeMattermost(value)}`);
  const text = [`#### ${icon} ${title}`, escapeMattermost(summaryOf(n)), '', ...facts].join('\n');
  return { text: clip(text, MATTERMOST_MAX) };
}

// --- cloudevents ----------------------------------------------------------------------------

/** The CDEvents specification version of the CDEvents documents sent. */
export const CDEVENTS_VERSION = '0.4.1';

/**
 * The CloudEvents type of a notification: CDEvents' `service.upgraded` for a completed rollout
 * (onpush restarts workloads that exist, with the pushed image: an upgrade, never a first
 * deployment), onpush's own type for what CDEvents has no event for.
 */
export function cloudEventType(n: Notification): string {
  switch (n.event) {
    case 'rollout-completed':
      return n.outcome?.workload
        ? 'dev.cdevents.service.upgraded.0.2.0'
        : 'dev.onpush.rollout.completed';
    case 'rollout-failed':
      return 'dev.onpush.rollout.failed';
    case 'rolled-back':
      // CDEvents' service.rolledback names the artifact now running, which onpush does not know.
      return 'dev.onpush.rollout.rolledback';
    case 'halted':
      return 'dev.onpush.rollout.halted';
    case 'approval':
      return 'dev.onpush.approval.requested';
    case 'dead':
      return 'dev.onpush.deadletter';
  }
}

/** The package URL (purl, `pkg:oci/...`) of the pushed image: the CDEvents artifact id. */
export function imagePurl(o: Pick<Outcome, 'image' | 'tag' | 'digest'>): string | undefined {
  if (o.image === undefined) return undefined;
  const name = (o.image.split('/').at(-1) ?? o.image).toLowerCase();
  const version = o.digest !== undefined ? `@${encodeURIComponent(o.digest)}` : '';
  const qualifiers = [`repository_url=${encodeURIComponent(o.image).replaceAll('%2F', '/')}`];
  if (o.tag !== undefined) qualifiers.push(`tag=${encodeURIComponent(o.tag)}`);
  return `pkg:oci/${encodeURIComponent(name)}${version}?${qualifiers.join('&')}`;
}

/**
 * The `source` of every CloudEvent onpush sends: the stage that made the notification, under its
 * cluster in a fleet (`/onpush/prod-eu/restarter`).
 */
export const sourceOf = (n: Notification): string =>
  `/onpush/${n.cluster !== undefined ? `${n.cluster}/` : ''}${n.outcome?.stage ?? 'restarter'}`;

/** The CloudEvents `subject`: the workload (`Deployment/shop/web`), else the stage. */
function subjectOf(n: Notification): string | undefined {
  const w = n.outcome?.workload ?? n.approval?.workload;
  return w ? workloadKey(w) : n.outcome?.stage;
}

/**
 * The CloudEvent of a notification: `id` stable per notification (a retried delivery has the
 * same), `source` /onpush/<stage>, `subject` the workload, `time` the outcome's, the
 * `traceparent` extension (distributed tracing) when the push's trace is known. Its data: a
 * CDEvents document for a CDEvents type (onpush's JSON as its customData), onpush's JSON otherwise
 * — `traceId` in it either way.
 */
export function cloudEventOf(n: Notification): CloudEvent<unknown> {
  const type = cloudEventType(n);
  const id = notificationId(n);
  const source = sourceOf(n);
  const time = timeOf(n);
  const subject = subjectOf(n);
  const own = webhookBody(n);
  const w = n.outcome?.workload;
  const data =
    type.startsWith('dev.cdevents.') && w && n.outcome
      ? {
          context: { version: CDEVENTS_VERSION, id, source, type, timestamp: time },
          subject: {
            id: workloadKey(w),
            source,
            type: 'service',
            content: {
              environment: { id: w.namespace, source },
              ...(imagePurl(n.outcome) !== undefined ? { artifactId: imagePurl(n.outcome) } : {}),
            },
          },
          customData: own,
          customDataContentType: 'application/json',
        }
      : own;
  return new CloudEvent<unknown>({
    specversion: '1.0',
    id,
    source,
    type,
    time,
    ...(subject !== undefined ? { subject } : {}),
    datacontenttype: 'application/json',
    data,
    ...(n.traceparent !== undefined ? { traceparent: n.traceparent } : {}),
  });
}

/**
 * Binary mode: the attributes in `ce-*` headers, the data as the plain JSON body. Chosen over
 * structured mode because the brokers and routers CloudEvents are sent to (Knative Eventing,
 * Argo Events, ...) filter on the `ce-type` / `ce-subject` headers without parsing the body, and a
 * receiver that knows nothing of CloudEvents still gets onpush's JSON (or the CDEvents document).
 */
function cloudEventRequest(n: Notification): HttpRequest {
  const message = HTTP.binary(cloudEventOf(n));
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(message.headers)) {
    if (value !== undefined) headers[name] = Array.isArray(value) ? value.join(', ') : value;
  }
  const body = message.body;
  return { headers, body: typeof body === 'string' ? body : JSON.stringify(body) };
}

// --- smtp -----------------------------------------------------------------------------------

/** `[onpush] Rollout failed: Deployment shop/web` — one line, at most 150 characters. */
export function subjectLine(n: Notification): string {
  const { title } = TITLES[n.event];
  const o = n.outcome;
  const what =
    workloadOf(n) ?? (o ? `${o.stage}, event ${o.eventId}${o.reason ? ` (${o.reason})` : ''}` : '');
  const tag = n.cluster !== undefined ? `onpush ${n.cluster}` : 'onpush';
  return clip(`[${tag}] ${title}: ${what}`.replace(/[\p{Cc}\p{Zl}\p{Zp}]+/gu, ' '), 150);
}

/** The e-mail of a notification: a short subject; the summary, then one line per fact. */
export function mailOf(n: Notification, from: string, to: readonly string[]): Mail {
  const facts = factsOf(n);
  const width = Math.max(...facts.map(([label]) => label.length)) + 1;
  const text = [
    summaryOf(n),
    '',
    ...facts.map(([label, value]) => `${`${label}:`.padEnd(width)} ${value}`),
    '',
    '-- ',
    'onpush',
    '',
  ].join('\n');
  const hash = createHash('sha256').update(notificationId(n)).digest('hex').slice(0, 32);
  return {
    from,
    to,
    subject: subjectLine(n),
    text,
    messageId: `<${hash}@onpush.notify>`,
    headers: {
      'X-Onpush-Event': n.event,
      ...(n.traceId !== undefined ? { 'X-Onpush-Trace-Id': n.traceId } : {}),
    },
  };
}

// --- all HTTP kinds -------------------------------------------------------------------------

type HttpKind = Exclude<TargetKind, 'smtp'>;
type JsonKind = Exclude<HttpKind, 'cloudevents'>;

/** The JSON body for a target of `kind`. */
export function bodyFor(kind: JsonKind, notification: Notification): unknown {
  switch (kind) {
    case 'slack':
      return { text: escapeSlack(notification.text) };
    case 'teams':
      return teamsBody(notification);
    case 'discord':
      return discordBody(notification);
    case 'mattermost':
      return mattermostBody(notification);
    case 'webhook':
      return webhookBody(notification);
  }
}

/** The HTTP request (headers and body) for a target of `kind`. */
export function requestFor(kind: HttpKind, notification: Notification): HttpRequest {
  if (kind === 'cloudevents') return cloudEventRequest(notification);
  return {
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(bodyFor(kind, notification)),
  };
}
