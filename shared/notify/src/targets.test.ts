// Every kind of target against a local receiver of its own: a real HTTP server (or SMTP server)
// on 127.0.0.1 that checks what it gets the way the product does — Teams' Adaptive Card, Discord's
// limits and mentions, Mattermost's text, the CloudEvents SDK's own parser, an SMTP server's
// envelope and message. Real sockets, real fetch and nodemailer: nothing mocked.
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { HTTP, type CloudEventV1 } from 'cloudevents';
import { SMTPServer, type SMTPServerOptions } from 'smtp-server';
import { ConfigError, loadConfig } from '@onpush/config';
import type { Approval, Outcome } from '@onpush/contracts';
import { createLogger } from '@onpush/telemetry';
import { notifyFields, smtpSettings, type Target } from './config.js';
import {
  DISCORD_LIMITS,
  bodyFor,
  cloudEventOf,
  escapeDiscord,
  escapeMattermost,
  mailOf,
  notificationId,
} from './formats.js';
import { approvalNotification, notificationOf } from './message.js';
import { createNotifier, type Notifier } from './notifier.js';

const TRACE_ID = '4bf92f3577b34da6a3ce929d0e0e4736';
const TRACEPARENT = `00-${TRACE_ID}-00f067aa0ba902b7-01`;
const HOSTILE =
  '**bold** [click](https://evil.example) <at>all</at> <!channel> @channel @everyone <@123> & ~town';

const failed: Outcome = {
  v: 1,
  eventId: 'gar:7',
  fate: 'rollout-failed',
  stage: 'restarter',
  workload: { kind: 'Deployment', namespace: 'shop', name: 'web' },
  image: 'ghcr.io/acme/web',
  tag: '1.4',
  digest: `sha256:${'a'.repeat(64)}`,
  reason: 'progress_deadline_exceeded',
  detail: `2 of 3 updated; ${HOSTILE}`,
  durationMs: 600_000,
  at: '2026-11-26T10:05:00.000Z',
};
const completed: Outcome = {
  ...failed,
  eventId: 'gar:8',
  fate: 'rollout-completed',
  detail: '3 of 3 updated and available',
  durationMs: 42_000,
};
delete (completed as { reason?: string }).reason;
const dead: Outcome = {
  v: 1,
  eventId: 'gar:9',
  fate: 'dead',
  stage: 'parser',
  reason: 'invalid_json',
  detail: 'Unexpected token < in JSON',
  at: '2026-11-26T10:06:00.000Z',
};

// --- receivers -------------------------------------------------------------------------------

interface Received {
  readonly headers: IncomingMessage['headers'];
  readonly body: string;
}

/**
 * An HTTP receiver on 127.0.0.1: each POST is judged by `judge` (the product's checks), which
 * answers its status; every request is kept.
 */
async function receiver(judge: (req: Received) => number | { status: number; body: string }) {
  const received: Received[] = [];
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const got = { headers: req.headers, body: Buffer.concat(chunks).toString('utf8') };
      received.push(got);
      let answer: number | { status: number; body: string };
      try {
        answer = judge(got);
      } catch (error) {
        answer = { status: 400, body: String(error) };
      }
      const { status, body } = typeof answer === 'number' ? { status: answer, body: '' } : answer;
      res.writeHead(status, { 'content-type': 'text/plain' }).end(body);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  closers.push(() => new Promise((resolve) => server.close(() => resolve())));
  const { port } = server.address() as AddressInfo;
  return { url: `http://127.0.0.1:${port}/hook?token=s3cret`, received };
}

const closers: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const close of closers.splice(0).reverse()) await close();
});

/** A notifier with one target, the default route, real fetch; `counted`: target:result. */
function notifierFor(target: Target, retriesMs: number[] = [10], cluster?: string) {
  const counted: string[] = [];
  const warnings: Record<string, unknown>[] = [];
  const notifier: Notifier = createNotifier({
    targets: [target],
    fallback: [target.name],
    queueSize: 10,
    retriesMs,
    timeoutMs: 2_000,
    log: createLogger(
      { test: 'targets' },
      {
        write: (line: string) => {
          const record = JSON.parse(line) as Record<string, unknown>;
          if (record['level'] === 'warn') warnings.push(record);
        },
      },
    ),
    counter: { inc: (l) => counted.push(`${l.target}:${l.result}`) },
    cluster,
  });
  closers.push(() => notifier.close(1_000));
  return { notifier, counted, warnings };
}

async function until(done: () => boolean, ms = 3_000): Promise<void> {
  const end = Date.now() + ms;
  while (!done()) {
    if (Date.now() > end) throw new Error('timed out');
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

const json = (r: Received): Record<string, unknown> => {
  expect(r.headers['content-type']).toMatch(/^application\/json/);
  return JSON.parse(r.body) as Record<string, unknown>;
};

// --- Microsoft Teams ---------------------------------------------------------------------------

interface CardElement {
  type: string;
  text?: string;
  inlines?: { type: string; text: string; weight?: string }[];
}

/** What a Teams Workflows webhook takes: a message with one Adaptive Card (≤ 1.5), ≤ 28 KB. */
function judgeTeams(r: Received): number {
  const body = json(r);
  if (Buffer.byteLength(r.body) > 28 * 1024) return 413;
  const attachments = body['attachments'] as { contentType: string; content: unknown }[];
  if (body['type'] !== 'message' || !Array.isArray(attachments) || attachments.length !== 1)
    return 400;
  const [card] = attachments;
  if (card?.contentType !== 'application/vnd.microsoft.card.adaptive') return 400;
  const content = card.content as { type: string; version: string; body: CardElement[] };
  if (content.type !== 'AdaptiveCard' || !['1.2', '1.3', '1.4', '1.5'].includes(content.version))
    return 400;
  const known = new Set(['TextBlock', 'RichTextBlock', 'FactSet', 'ColumnSet', 'Container']);
  for (const element of content.body) {
    if (!known.has(element.type)) return 400;
    if (element.type === 'RichTextBlock' && !element.inlines?.every((i) => i.type === 'TextRun'))
      return 400;
  }
  return 202; // Workflows answers 202 Accepted
}

describe('teams', () => {
  it('posts an Adaptive Card 1.4 whose data Teams shows literally, with the trace id', async () => {
    const teams = await receiver(judgeTeams);
    const { notifier, counted } = notifierFor({ name: 'team', kind: 'teams', url: teams.url });
    notifier.notify(failed, undefined, { traceparent: TRACEPARENT });
    await until(() => counted.length > 0);
    expect(counted).toEqual(['team:sent']);

    const body = JSON.parse(teams.received[0]!.body) as {
      attachments: [{ content: { version: string; body: CardElement[] } }];
    };
    const elements = body.attachments[0].content.body;
    expect(body.attachments[0].content.version).toBe('1.4');
    // The only TextBlock (markdown) is onpush's own title; every piece of data is in a TextRun.
    const blocks = elements.filter((e) => e.type === 'TextBlock');
    expect(blocks.map((b) => b.text)).toEqual(['❌ Rollout failed']);
    const runs = elements.flatMap((e) => e.inlines ?? []).map((i) => i.text);
    expect(runs.join('\n')).toContain(HOSTILE); // literal: no markdown, no <at> mention
    expect(runs).toEqual(
      expect.arrayContaining([
        'Workload: ',
        'Deployment shop/web',
        `ghcr.io/acme/web:1.4@sha256:${'a'.repeat(64)}`,
        'rollout-failed (progress_deadline_exceeded)',
        '600 s',
        'Trace: ',
        TRACE_ID,
      ]),
    );
  });
});

// --- Discord -----------------------------------------------------------------------------------

/** Discord's own checks of a webhook message (400 with code 50035 past a limit, 204 else). */
function judgeDiscord(r: Received): number | { status: number; body: string } {
  const L = DISCORD_LIMITS;
  const body = json(r) as {
    content?: string;
    embeds?: {
      title?: string;
      description?: string;
      color?: number;
      timestamp?: string;
      fields?: { name: string; value: string }[];
      footer?: { text: string };
    }[];
    allowed_mentions?: { parse?: string[] };
  };
  const invalid = { status: 400, body: '{"code":50035,"message":"Invalid Form Body"}' };
  if ((body.content ?? '') === '' && (body.embeds ?? []).length === 0) return invalid;
  if ((body.content ?? '').length > L.content || (body.embeds ?? []).length > 10) return invalid;
  let total = 0;
  for (const e of body.embeds ?? []) {
    const fields = e.fields ?? [];
    if ((e.title ?? '').length > L.title || (e.description ?? '').length > L.description)
      return invalid;
    if (fields.length > L.fields) return invalid;
    for (const f of fields) {
      if (f.name === '' || f.value === '') return invalid;
      if (f.name.length > L.fieldName || f.value.length > L.fieldValue) return invalid;
    }
    if (e.timestamp !== undefined && Number.isNaN(Date.parse(e.timestamp))) return invalid;
    if (e.color !== undefined && (e.color < 0 || e.color > 0xffffff)) return invalid;
    total += (e.title ?? '').length + (e.description ?? '').length + (e.footer?.text.length ?? 0);
    total += fields.reduce((sum, f) => sum + f.name.length + f.value.length, 0);
  }
  if (total > L.embedTotal) return invalid;
  return 204;
}

describe('discord', () => {
  it('posts an embed within every limit, markdown escaped, pinging nobody', async () => {
    const discord = await receiver(judgeDiscord);
    const { notifier, counted } = notifierFor({ name: 'dc', kind: 'discord', url: discord.url });
    const huge = { ...failed, detail: `${HOSTILE} ${'x'.repeat(20_000)}` };
    notifier.notify(huge, undefined, { traceparent: TRACEPARENT });
    notifier.notify(failed, undefined, { traceparent: TRACEPARENT });
    await until(() => counted.length === 2);
    expect(counted).toEqual(['dc:sent', 'dc:sent']); // the receiver refuses anything over a limit

    const [big, small] = discord.received.map((r) => JSON.parse(r.body) as Record<string, unknown>);
    expect(big!['allowed_mentions']).toEqual({ parse: [] });
    const embed = (small!['embeds'] as Record<string, unknown>[])[0]!;
    expect(embed).toMatchObject({
      title: '❌ Rollout failed',
      color: 0xe01e5a,
      timestamp: failed.at,
      fields: expect.arrayContaining([
        { name: 'Workload', value: 'Deployment shop/web', inline: true },
        { name: 'Trace', value: TRACE_ID, inline: true },
      ]) as unknown,
    });
    // Shown as typed: no bold, no masked link, no mention pill.
    expect(embed['description']).toContain(
      '\\*\\*bold\\*\\* \\[click\\]\\(https://evil.example\\) \\<at\\>all\\</at\\>',
    );
    const bigDescription = (big!['embeds'] as { description: string }[])[0]!.description;
    expect(bigDescription.length).toBeLessThanOrEqual(DISCORD_LIMITS.description);
    expect(bigDescription.endsWith('…')).toBe(true);
  });

  it('escapes markdown at line starts and inline, cutting never inside an escape', () => {
    expect(escapeDiscord('# h\n- item\n> q\n1. one\n5.0 s\n`code` a_b ~~s~~ ||spoiler||')).toBe(
      '\\# h\n\\- item\n\\> q\n1\\. one\n5.0 s\n\\`code\\` a\\_b \\~\\~s\\~\\~ \\|\\|spoiler\\|\\|',
    );
  });
});

// --- Mattermost --------------------------------------------------------------------------------

/** A Mattermost incoming webhook: `text` (or attachments), at most 16383 characters; 200 "ok". */
function judgeMattermost(r: Received): number | { status: number; body: string } {
  const body = json(r) as { text?: unknown; attachments?: unknown };
  if (typeof body.text !== 'string' || body.text === '') return 400;
  if (body.text.length > 16_383) return 400;
  return { status: 200, body: 'ok' };
}

describe('mattermost', () => {
  it('posts Mattermost markdown: escaped with backslashes, no mention that notifies', async () => {
    const mm = await receiver(judgeMattermost);
    const { notifier, counted } = notifierFor({ name: 'mm', kind: 'mattermost', url: mm.url });
    notifier.notify(failed, undefined, { traceparent: TRACEPARENT });
    await until(() => counted.length > 0);
    expect(counted).toEqual(['mm:sent']);

    const { text } = JSON.parse(mm.received[0]!.body) as { text: string };
    expect(text.split('\n')[0]).toBe('#### ❌ Rollout failed');
    expect(text).toContain('- **Workload:** Deployment shop/web');
    expect(text).toContain(`- **Trace:** ${TRACE_ID}`);
    expect(text).toContain('\\*\\*bold\\*\\* \\[click\\]\\(https://evil.example\\)');
    // Mattermost finds @-mentions in the raw text: a zero-width space breaks each.
    expect(text).not.toMatch(/@(channel|everyone|here|all)\b/);
    expect(text).toContain('@\u200bchannel');
    // Unlike Slack's, no HTML entities (Mattermost would show `&lt;` as is).
    expect(text).not.toContain('&lt;');
    expect(text).toContain('\\<\\!channel\\> ');
    expect(bodyFor('slack', notificationOf(failed)!)).toEqual({
      text: expect.stringContaining('&lt;!channel&gt;') as unknown,
    });
  });

  it('escapes line starts and leaves e-mail addresses readable', () => {
    expect(escapeMattermost('# h\n- a\n2. b\n5.0 s\nmail ops@example.com')).toBe(
      '\\# h\n\\- a\n2\\. b\n5.0 s\nmail ops@\u200bexample.com',
    );
  });
});

// --- CloudEvents -------------------------------------------------------------------------------

describe('cloudevents', () => {
  it('sends CloudEvents 1.0 in binary mode, CDEvents for a completed rollout; a retry keeps its id', async () => {
    const answers = [503, 202];
    const ce = await receiver((r) => {
      HTTP.toEvent({ headers: r.headers, body: r.body }); // throws (→ 400) when not a CloudEvent
      return answers.shift() ?? 202;
    });
    const { notifier, counted } = notifierFor({ name: 'ce', kind: 'cloudevents', url: ce.url });
    notifier.notify(completed, undefined, { traceparent: TRACEPARENT });
    await until(() => counted.includes('ce:sent'));
    expect(counted).toEqual(['ce:retried', 'ce:sent']);

    const [first, retried] = ce.received.map(
      (r) => HTTP.toEvent({ headers: r.headers, body: r.body }) as CloudEventV1<unknown>,
    );
    expect(ce.received[0]!.headers['ce-specversion']).toBe('1.0'); // binary mode
    expect(ce.received[0]!.headers['content-type']).toMatch(/^application\/json/);
    expect(retried!.id).toBe(first!.id);
    expect(first).toMatchObject({
      specversion: '1.0',
      id: 'gar:8:Deployment/shop/web:rollout-completed',
      type: 'dev.cdevents.service.upgraded.0.2.0',
      source: '/onpush/restarter',
      subject: 'Deployment/shop/web',
      time: completed.at,
      traceparent: TRACEPARENT,
      data: {
        context: {
          version: '0.4.1',
          id: first!.id,
          source: '/onpush/restarter',
          type: 'dev.cdevents.service.upgraded.0.2.0',
          timestamp: completed.at,
        },
        subject: {
          id: 'Deployment/shop/web',
          type: 'service',
          content: {
            environment: { id: 'shop' },
            artifactId: `pkg:oci/web@sha256%3A${'a'.repeat(64)}?repository_url=ghcr.io/acme/web&tag=1.4`,
          },
        },
        customData: { v: 1, type: 'rollout-completed', traceId: TRACE_ID, outcome: completed },
      },
    });
  });

  it("names a fleet cluster's notifications after it: the source, the text, the data", async () => {
    const ce = await receiver((r) => {
      HTTP.toEvent({ headers: r.headers, body: r.body });
      return 202;
    });
    const { notifier, counted } = notifierFor(
      { name: 'ce', kind: 'cloudevents', url: ce.url },
      [10],
      'prod-eu',
    );
    notifier.notify(failed, undefined, { traceparent: TRACEPARENT });
    await until(() => counted.includes('ce:sent'));
    const event = HTTP.toEvent({
      headers: ce.received[0]!.headers,
      body: ce.received[0]!.body,
    }) as CloudEventV1<{ cluster?: string; text: string }>;
    expect(event.source).toBe('/onpush/prod-eu/restarter');
    expect(event.data?.cluster).toBe('prod-eu');
    expect(event.data?.text).toMatch(/^\[prod-eu\] /);
  });

  it('sends onpush types where CDEvents has none: a failed rollout, a dead letter', async () => {
    const ce = await receiver((r) => (HTTP.toEvent({ headers: r.headers, body: r.body }), 202));
    const { notifier, counted } = notifierFor({ name: 'ce', kind: 'cloudevents', url: ce.url });
    notifier.notify(failed, undefined, { traceparent: TRACEPARENT });
    notifier.notify(dead);
    await until(() => counted.length === 2);
    expect(counted).toEqual(['ce:sent', 'ce:sent']);
    const events = ce.received
      .map((r) => HTTP.toEvent({ headers: r.headers, body: r.body }) as CloudEventV1<unknown>)
      .sort((a, b) => a.type.localeCompare(b.type));
    expect(events[0]).toMatchObject({
      type: 'dev.onpush.deadletter',
      source: '/onpush/parser',
      subject: 'parser',
      id: 'gar:9:parser:dead',
      data: { v: 1, type: 'dead', outcome: dead },
    });
    expect(events[0]?.['traceparent']).toBeUndefined();
    expect(events[1]).toMatchObject({
      type: 'dev.onpush.rollout.failed',
      subject: 'Deployment/shop/web',
      traceparent: TRACEPARENT,
      data: { v: 1, type: 'rollout-failed', traceId: TRACE_ID, outcome: failed },
    });
    // Pure and stable: the same notification makes the same event.
    const n = notificationOf(failed, { traceparent: TRACEPARENT })!;
    expect(cloudEventOf(n).toJSON()).toEqual(cloudEventOf(n).toJSON());
  });
});

// --- e-mail --------------------------------------------------------------------------------------

interface Delivered {
  from: string;
  to: string[];
  raw: string;
}

/** A real SMTP server on 127.0.0.1 that wants user `onpush`, password `p@ss,word`. */
async function smtpReceiver(extra: Partial<SMTPServerOptions> = {}) {
  const mails: Delivered[] = [];
  const server = new SMTPServer({
    hideSTARTTLS: true, // plain SMTP on loopback: no certificate to trust
    allowInsecureAuth: true,
    logger: false,
    onAuth(auth, _session, callback) {
      if (auth.username === 'onpush' && auth.password === 'p@ss,word')
        return callback(null, { user: auth.username });
      callback(Object.assign(new Error('Invalid username or password'), { responseCode: 535 }));
    },
    onData(stream, session, callback) {
      const chunks: Buffer[] = [];
      stream.on('data', (c: Buffer) => chunks.push(c));
      stream.on('end', () => {
        const from = session.envelope.mailFrom;
        mails.push({
          from: from === false ? '' : from.address,
          to: session.envelope.rcptTo.map((r) => r.address),
          raw: Buffer.concat(chunks).toString('utf8'),
        });
        callback();
      });
    },
    ...extra,
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  closers.push(() => new Promise((resolve) => server.close(() => resolve())));
  const { port } = server.server.address() as AddressInfo;
  return { port, mails };
}

/** The headers (unfolded) and the decoded quoted-printable text of a single-part mail. */
function parseMail(raw: string): { headers: Record<string, string>; text: string } {
  const [head = '', ...rest] = raw.split('\r\n\r\n');
  const headers: Record<string, string> = {};
  for (const line of head.replace(/\r\n[ \t]+/g, ' ').split('\r\n')) {
    const colon = line.indexOf(':');
    headers[line.slice(0, colon).toLowerCase()] = line.slice(colon + 1).trim();
  }
  let body = rest.join('\r\n\r\n');
  if (/quoted-printable/i.test(headers['content-transfer-encoding'] ?? '')) {
    const bytes = body
      .replace(/=\r\n/g, '')
      .replace(/=([0-9A-F]{2})/g, (_, hex: string) => `%${hex}`)
      .replace(/%(?![0-9A-F]{2})/g, '%25');
    body = decodeURIComponent(bytes);
  }
  return { headers, text: body.replace(/\r\n/g, '\n') };
}

const schema = z.object(notifyFields);

describe('smtp', () => {
  it('mails from and to the addresses of its URL: the workload, the push, the outcome, the trace', async () => {
    const smtp = await smtpReceiver();
    // One variable for all targets: the recipients' comma stays with the smtp URL.
    const config = loadConfig(schema, {
      NOTIFY_TARGETS:
        `ops=webhook:https://hooks.example.com/x,` +
        `mail=smtp:smtp://onpush:p%40ss%2Cword@127.0.0.1:${smtp.port}/?from=onpush@example.com&to=oncall@example.com,shop@example.com`,
    });
    const target = config.NOTIFY_TARGETS.find((t) => t.name === 'mail')!;
    expect(config.NOTIFY_TARGETS.map((t) => t.kind)).toEqual(['webhook', 'smtp']);
    const { notifier, counted } = notifierFor(target);
    notifier.notify(failed, undefined, { traceparent: TRACEPARENT });
    await until(() => counted.length > 0);
    expect(counted).toEqual(['mail:sent']);

    const [mail] = smtp.mails;
    expect(mail?.from).toBe('onpush@example.com');
    expect(mail?.to).toEqual(['oncall@example.com', 'shop@example.com']);
    const { headers, text } = parseMail(mail!.raw);
    expect(headers['from']).toBe('onpush@example.com');
    expect(headers['to']).toBe('oncall@example.com, shop@example.com');
    expect(headers['subject']).toBe('[onpush] Rollout failed: Deployment shop/web');
    expect(headers['content-type']).toMatch(/^text\/plain; charset=utf-8/);
    expect(headers['x-onpush-trace-id']).toBe(TRACE_ID);
    expect(headers['message-id']).toMatch(/^<[0-9a-f]{32}@onpush\.notify>$/);
    expect(text.split('\n')[0]).toBe(notificationOf(failed)!.text);
    expect(text).toContain('Workload: Deployment shop/web');
    expect(text).toContain(`Image:    ghcr.io/acme/web:1.4@sha256:${'a'.repeat(64)}`);
    expect(text).toContain('Outcome:  rollout-failed (progress_deadline_exceeded)');
    expect(text).toContain(`Trace:    ${TRACE_ID}`);
  });

  it('gives up at once on a 5xx reply (bad password), retries a 4xx one', async () => {
    let busy = 1;
    const smtp = await smtpReceiver({
      onRcptTo(_address, _session, callback) {
        if (busy-- > 0)
          return callback(Object.assign(new Error('Try again later'), { responseCode: 451 }));
        callback();
      },
    });
    const url = (pass: string) =>
      `smtp://onpush:${pass}@127.0.0.1:${smtp.port}/?from=onpush@example.com&to=a@example.com`;
    const wrong = notifierFor({ name: 'wrong', kind: 'smtp', url: url('nope') });
    wrong.notifier.notify(dead);
    await until(() => wrong.counted.length > 0);
    expect(wrong.counted).toEqual(['wrong:failed']);
    expect(wrong.warnings[0]).toMatchObject({ msg: 'notification refused', status: 535 });
    expect(JSON.stringify(wrong.warnings)).not.toContain('nope');

    const right = notifierFor({ name: 'right', kind: 'smtp', url: url('p%40ss%2Cword') });
    right.notifier.notify(dead);
    await until(() => right.counted.includes('right:sent'));
    expect(right.counted).toEqual(['right:retried', 'right:sent']);
    expect(parseMail(smtp.mails[0]!.raw).headers['subject']).toBe(
      '[onpush] Dead letter: parser, event gar:9 (invalid_json)',
    );
  });

  it('names the cluster in the subject and among the facts, in a fleet', () => {
    const n = { ...notificationOf(failed)!, cluster: 'prod-eu' };
    const mail = mailOf(n, 'onpush@example.com', ['ops@example.com']);
    expect(mail.subject).toMatch(/^\[onpush prod-eu\] /);
    expect(mail.text).toMatch(/^Cluster: +prod-eu$/m);
  });

  it('is a pure function of the notification: subject, body, stable Message-ID', () => {
    const approval: Approval = {
      id: '0123456789abcdef',
      eventId: 'gar:10',
      workload: { kind: 'StatefulSet', namespace: 'db', name: 'pg' },
      image: 'postgres',
      tag: '17',
      state: 'pending',
      requestedAt: '2026-11-26T10:07:00.000Z',
      deadline: '2026-11-27T10:07:00.000Z',
    };
    const n = approvalNotification(approval, { traceparent: TRACEPARENT });
    const mail = mailOf(n, 'a@x.example', ['b@x.example']);
    expect(mail.subject).toBe('[onpush] Waiting for approval: StatefulSet db/pg');
    expect(mail.text).toContain('Approve:  onpush approve 0123456789abcdef');
    expect(mail.text).toContain(`Trace:    ${TRACE_ID}`);
    expect(mailOf(n, 'a@x.example', ['b@x.example']).messageId).toBe(mail.messageId);
    expect(notificationId(n)).toBe('gar:10:StatefulSet/db/pg:approval');
    const newline = notificationOf({
      ...failed,
      workload: { ...failed.workload!, name: 'a\r\nBcc: x' },
    })!;
    expect(mailOf(newline, 'a@x.example', ['b@x.example']).subject).not.toMatch(/[\r\n]/);
  });
});

// --- config ------------------------------------------------------------------------------------

describe('target config', () => {
  const problem = (value: string): string => {
    try {
      loadConfig(schema, { NOTIFY_TARGETS: value });
    } catch (error) {
      expect(error).toBeInstanceOf(ConfigError);
      return (error as Error).message;
    }
    return '';
  };

  it('reads every kind; an smtp URL without from/to, or another scheme, is refused without its password', () => {
    const kinds = ['teams', 'discord', 'mattermost', 'cloudevents'];
    const config = loadConfig(schema, {
      NOTIFY_TARGETS: kinds.map((k) => `${k}=${k}:https://hooks.example.com/${k}`).join(','),
    });
    expect(config.NOTIFY_TARGETS.map((t) => t.kind)).toEqual(kinds);
    for (const [value, message] of [
      ['m=smtp:smtp://u:s3cret@mail.example.com/?to=a@b.example', 'needs ?from='],
      ['m=smtp:smtp://u:s3cret@mail.example.com/?from=a@b.example', 'needs &to='],
      ['m=smtp:https://u:s3cret@mail.example.com/?from=a@b.example&to=c@d', 'not an smtp://'],
      ['m=teams:smtp://u:s3cret@mail.example.com/', 'not an http(s) URL'],
      ['m=pager:https://x.example/s3cret', 'kind must be webhook, slack, teams'],
      ['https://x.example/?token=s3cret', 'must be name=kind:<url>'],
      ['Ops:x=webhook:https://x.example/?token=s3cret', 'its name must be'],
    ] as const) {
      const text = problem(value);
      expect(text).toContain('NOTIFY_TARGETS');
      expect(text).toContain(message);
      expect(text).not.toContain('s3cret');
    }
  });

  it('parses smtp and smtps URLs: TLS, ports, percent-decoded credentials', () => {
    expect(
      smtpSettings('smtps://me%40x:p%3Aw@mail.example.com/?from=a@x.example&to=b@x.example'),
    ).toEqual({
      host: 'mail.example.com',
      port: 465,
      secure: true,
      auth: { user: 'me@x', pass: 'p:w' },
      from: 'a@x.example',
      to: ['b@x.example'],
    });
    expect(smtpSettings('smtp://[::1]:2525/?from=a@x.example&to=b@x.example,c@x.example')).toEqual({
      host: '::1',
      port: 2525,
      secure: false,
      auth: undefined,
      from: 'a@x.example',
      to: ['b@x.example', 'c@x.example'],
    });
    expect(smtpSettings('smtp://mail.example.com/?from=a@x.example&to=b@x.example')).toMatchObject({
      port: 587,
    });
  });
});
