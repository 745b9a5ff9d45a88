import { X509Certificate, verify, type KeyObject } from 'node:crypto';
import { AuthError, AuthUnavailableError } from './errors.js';
import { getText, type Fetcher } from './fetch.js';

export type SnsType = 'Notification' | 'SubscriptionConfirmation' | 'UnsubscribeConfirmation';

/** An SNS HTTP(S) message, as far as its signature covers it. */
export interface SnsMessage {
  Type: SnsType;
  MessageId: string;
  TopicArn: string;
  Timestamp: string;
  Message: string;
  Subject?: string | undefined;
  SubscribeURL?: string | undefined;
  Token?: string | undefined;
  SignatureVersion: '1' | '2';
  Signature: string;
  SigningCertURL: string;
}

export interface SnsPolicy {
  topicArns: readonly string[];
  /** Anchored pattern on the origin of SigningCertURL and SubscribeURL. */
  certOrigin: RegExp;
  /** Oldest message accepted (by its signed Timestamp); a replay after this is refused. */
  maxAgeMs: number;
}

/** How far in the future a Timestamp may be (clocks differ). */
const FUTURE_SKEW_MS = 5 * 60 * 1000;

/** The message's signed Timestamp within maxAgeMs of `nowMs`; else AuthError (401). */
function checkTimestamp(message: SnsMessage, policy: SnsPolicy, nowMs: number): void {
  const at = Date.parse(message.Timestamp);
  if (Number.isNaN(at)) throw new AuthError('malformed', 'the SNS Timestamp is not a time');
  if (at < nowMs - policy.maxAgeMs)
    throw new AuthError(
      'expired',
      `the SNS message is older than ${policy.maxAgeMs / 1000} s (a replay, or delivered too late)`,
    );
  if (at > nowMs + FUTURE_SKEW_MS)
    throw new AuthError('not_yet_valid', 'the SNS Timestamp is in the future');
}

/** The keys SNS signs in a (un)subscription confirmation, in order. */
const CONFIRMATION_KEYS: readonly (keyof SnsMessage)[] = [
  'Message',
  'MessageId',
  'SubscribeURL',
  'Timestamp',
  'Token',
  'TopicArn',
  'Type',
];

const SIGNED_KEYS: Readonly<Record<SnsType, readonly (keyof SnsMessage)[]>> = {
  Notification: ['Message', 'MessageId', 'Subject', 'Timestamp', 'TopicArn', 'Type'],
  SubscriptionConfirmation: CONFIRMATION_KEYS,
  UnsubscribeConfirmation: CONFIRMATION_KEYS,
};

/** The string SNS signs: `Key\nValue\n` for each signed key present, in this order. */
export function snsStringToSign(message: SnsMessage): string {
  return SIGNED_KEYS[message.Type]
    .map((key) => (message[key] === undefined ? '' : `${key}\n${message[key]}\n`))
    .join('');
}

const isString = (v: unknown): v is string => typeof v === 'string';

/** The body as an SNS message; throws AuthError('malformed') when it cannot be one. */
export function parseSns(body: Buffer): SnsMessage {
  let value: Record<string, unknown>;
  try {
    value = JSON.parse(body.toString('utf8')) as Record<string, unknown>;
  } catch {
    throw new AuthError('malformed', 'the body is not an SNS message (not JSON)');
  }
  const type = value?.['Type'];
  const required = ['MessageId', 'TopicArn', 'Timestamp', 'Message', 'Signature', 'SigningCertURL'];
  if (
    (type !== 'Notification' &&
      type !== 'SubscriptionConfirmation' &&
      type !== 'UnsubscribeConfirmation') ||
    !required.every((key) => isString(value[key])) ||
    (value['SignatureVersion'] !== '1' && value['SignatureVersion'] !== '2') ||
    (type !== 'Notification' && !(isString(value['SubscribeURL']) && isString(value['Token']))) ||
    ![value['Subject'], value['SubscribeURL'], value['Token']].every(
      (v) => v === undefined || v === null || isString(v),
    )
  ) {
    throw new AuthError('malformed', 'the body is not a signed SNS message');
  }
  return value as unknown as SnsMessage;
}

/** True when `url` is an https (or allowed) URL whose origin matches the policy. */
export function allowedUrl(url: string, policy: SnsPolicy): boolean {
  if (!URL.canParse(url)) return false;
  const parsed = new URL(url);
  return parsed.username === '' && parsed.password === '' && policy.certOrigin.test(parsed.origin);
}

/** Signing certificates by URL, fetched once (only from allowed origins) and kept. */
export class SnsCertificates {
  private readonly keys = new Map<string, Promise<KeyObject>>();

  constructor(private readonly fetcher: Fetcher = fetch) {}

  key(url: string): Promise<KeyObject> {
    let key = this.keys.get(url);
    if (key === undefined) {
      if (this.keys.size >= 64) this.keys.delete(this.keys.keys().next().value ?? '');
      key = getText(url, this.fetcher).then(({ text }) => new X509Certificate(text).publicKey);
      this.keys.set(url, key);
      // a failure is not kept: the next message tries again
      key.catch(() => this.keys.delete(url));
    }
    return key.catch((error: unknown) => {
      throw new AuthUnavailableError(
        `SNS signing certificate unavailable: ${(error as Error).message}`,
        {
          cause: error,
        },
      );
    });
  }
}

/**
 * Verifies an SNS message: one of the allowed topics, a certificate URL on an allowed origin,
 * a Timestamp no older than maxAgeMs (nor in the future) and a signature (SignatureVersion 1: SHA1withRSA, 2: SHA256withRSA) over the canonical
 * string. Returns the message; throws AuthError (401) or AuthUnavailableError (503).
 */
export async function verifySns(
  body: Buffer,
  policy: SnsPolicy,
  certs: SnsCertificates,
  nowMs: number = Date.now(),
): Promise<SnsMessage> {
  const message = parseSns(body);
  if (!policy.topicArns.includes(message.TopicArn))
    throw new AuthError('wrong_topic', 'the message is from a topic not configured');
  if (
    !allowedUrl(message.SigningCertURL, policy) ||
    !/\.pem$/.test(new URL(message.SigningCertURL).pathname)
  )
    throw new AuthError('cert_url_not_allowed', 'SigningCertURL is not on an allowed origin');
  checkTimestamp(message, policy, nowMs);
  const key = await certs.key(message.SigningCertURL);
  const algorithm = message.SignatureVersion === '1' ? 'RSA-SHA1' : 'RSA-SHA256';
  const signature = Buffer.from(message.Signature, 'base64');
  if (!verify(algorithm, Buffer.from(snsStringToSign(message), 'utf8'), key, signature))
    throw new AuthError('bad_signature', 'the SNS signature does not verify');
  return message;
}
