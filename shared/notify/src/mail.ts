// Sending the e-mail of an `smtp` target with nodemailer. One transport per target, created on its
// first mail and pooled (at most 2 connections, each reused for up to 100 mails): a push that
// restarts many workloads makes a burst of mails to the same server, which a pool sends over one
// authenticated connection instead of a TCP + TLS + AUTH handshake each (servers rate-limit logins
// too); an idle pooled connection the server closes is simply opened again for the next mail.
// The pools are closed with the notifier.
import { createTransport, type Transporter } from 'nodemailer';
import { smtpSettings, type Target } from './config.js';
import { mailOf } from './formats.js';
import type { Notification } from './message.js';

/** How one mail went: sent, worth another try, or refused for good (an SMTP 5xx reply). */
export type MailAttempt =
  | { readonly result: 'sent' }
  | { readonly result: 'retry'; readonly why: string }
  | { readonly result: 'refused'; readonly status?: number; readonly why: string };

export interface Mailer {
  send(target: Target, notification: Notification): Promise<MailAttempt>;
  /** Closes every pooled connection. */
  close(): void;
}

function reasonOf(error: unknown): { why: string; responseCode: number | undefined } {
  const e = error as { message?: unknown; responseCode?: unknown } | null;
  const why = typeof e?.message === 'string' ? e.message : String(error);
  const responseCode = typeof e?.responseCode === 'number' ? e.responseCode : undefined;
  return { why: why.slice(0, 300), responseCode };
}

/** A mailer whose connections give up after `timeoutMs` (connect, greeting, silence). */
export function createMailer(timeoutMs: number): Mailer {
  const transports = new Map<string, Transporter>();

  function transportOf(target: Target): Transporter | string {
    const existing = transports.get(target.name);
    if (existing) return existing;
    const settings = smtpSettings(target.url);
    if (typeof settings === 'string') return settings;
    const transport = createTransport({
      pool: true,
      maxConnections: 2,
      maxMessages: 100,
      host: settings.host,
      port: settings.port,
      secure: settings.secure,
      ...(settings.auth ? { auth: { user: settings.auth.user, pass: settings.auth.pass } } : {}),
      connectionTimeout: timeoutMs,
      greetingTimeout: timeoutMs,
      socketTimeout: timeoutMs,
      // nodemailer's logger stays off: it would log the server's replies, addresses included.
      logger: false,
    });
    transports.set(target.name, transport);
    return transport;
  }

  return {
    async send(target, notification) {
      try {
        const transport = transportOf(target);
        // Checked when the config was read; a Target made otherwise is refused, never thrown.
        if (typeof transport === 'string') return { result: 'refused', why: transport };
        const settings = smtpSettings(target.url) as Exclude<
          ReturnType<typeof smtpSettings>,
          string
        >;
        const mail = mailOf(notification, settings.from, settings.to);
        await transport.sendMail({ ...mail, to: [...mail.to] });
        return { result: 'sent' };
      } catch (error) {
        const { why, responseCode } = reasonOf(error);
        // 5xx: the server refuses for good (no such mailbox, authentication failed, ...).
        if (responseCode !== undefined && responseCode >= 500) {
          return { result: 'refused', status: responseCode, why };
        }
        return { result: 'retry', why };
      }
    },
    close() {
      for (const transport of transports.values()) transport.close();
      transports.clear();
    },
  };
}
