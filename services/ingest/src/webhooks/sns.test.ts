import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SNS_ORIGIN } from './endpoint-schema.js';
import { AuthError } from './errors.js';
import { SnsCertificates, verifySns, type SnsMessage, type SnsPolicy } from './sns.js';
import { SNS_TEST_PEM, serve, snsSign } from './senders.test-support.js';

const TOPIC = 'arn:aws:sns:us-west-2:123456789012:ecr-pushes';
let certs: Awaited<ReturnType<typeof serve>>;
let policy: SnsPolicy;
let cache: SnsCertificates;

beforeAll(async () => {
  const pem = readFileSync(SNS_TEST_PEM, 'utf8');
  certs = await serve({
    '/SimpleNotificationService-test.pem': pem.slice(pem.indexOf('-----BEGIN CERTIFICATE')),
  });
  policy = {
    topicArns: [TOPIC],
    certOrigin: new RegExp(`^${certs.url.replaceAll('.', '\\.')}$`),
    maxAgeMs: 300_000,
  };
  cache = new SnsCertificates();
});
afterAll(() => certs.close());

function notification(version: '1' | '2' = '2', more: Partial<SnsMessage> = {}): SnsMessage {
  return snsSign(
    {
      Type: 'Notification',
      MessageId: '22b80b92-fdea-4c2c-8f9d-bdfb0c7bf324',
      TopicArn: TOPIC,
      Subject: 'ECR push',
      Message: '{"detail-type":"ECR Image Action"}',
      Timestamp: '2025-06-01T12:00:00.000Z',
      SigningCertURL: `${certs.url}/SimpleNotificationService-test.pem`,
      ...more,
    },
    version,
  );
}

const SENT = Date.parse('2025-06-01T12:00:00.000Z');

async function reason(message: unknown, nowMs = SENT + 1_000): Promise<string> {
  try {
    await verifySns(Buffer.from(JSON.stringify(message)), policy, cache, nowMs);
    return 'ok';
  } catch (error) {
    if (error instanceof AuthError) return error.reason;
    throw error;
  }
}

describe('SNS message signature', () => {
  it.each([
    ['SignatureVersion 1 (SHA1withRSA)', () => notification('1'), 'ok'],
    ['SignatureVersion 2 (SHA256withRSA)', () => notification('2'), 'ok'],
    ['without a Subject', () => notification('2', { Subject: undefined }), 'ok'],
    [
      'a subscription confirmation',
      () =>
        snsSign({
          Type: 'SubscriptionConfirmation',
          MessageId: 'c1',
          TopicArn: TOPIC,
          Message: 'You have chosen to subscribe…',
          SubscribeURL: `${certs.url}/confirm?Token=t`,
          Token: 't',
          Timestamp: '2025-06-01T12:00:00.000Z',
          SigningCertURL: `${certs.url}/SimpleNotificationService-test.pem`,
        }),
      'ok',
    ],
    [
      'message changed after signing',
      () => ({ ...notification(), Message: '{"x":1}' }),
      'bad_signature',
    ],
    [
      'version 1 signature claimed as 2',
      () => ({ ...notification('1'), SignatureVersion: '2' }),
      'bad_signature',
    ],
    [
      'another topic',
      () => notification('2', { TopicArn: 'arn:aws:sns:us-west-2:999999999999:evil' }),
      'wrong_topic',
    ],
    [
      'certificate from another host',
      () =>
        notification('2', {
          SigningCertURL: 'https://evil.example.com/SimpleNotificationService-x.pem',
        }),
      'cert_url_not_allowed',
    ],
    ['not SNS at all', () => ({ hello: 'world' }), 'malformed'],
    ['unknown version', () => ({ ...notification(), SignatureVersion: '3' }), 'malformed'],
  ])('%s → %s', async (_, message, expected) => {
    expect(await reason(message())).toBe(expected);
  });

  it('fetches a signing certificate once', () => {
    expect(certs.hits.get('/SimpleNotificationService-test.pem')).toBe(1);
  });

  it('allows only sns.<region>.amazonaws.com by default', () => {
    const origin = new RegExp(`^(?:${SNS_ORIGIN})$`);
    expect(origin.test('https://sns.eu-west-1.amazonaws.com')).toBe(true);
    expect(origin.test('https://sns.cn-north-1.amazonaws.com.cn')).toBe(true);
    expect(origin.test('http://sns.eu-west-1.amazonaws.com')).toBe(false);
    expect(origin.test('https://sns.eu-west-1.amazonaws.com.evil.com')).toBe(false);
    expect(origin.test('https://evil.com')).toBe(false);
    expect(origin.test('https://sns.s3.amazonaws.com')).toBe(false);
    expect(origin.test('https://sns.amazonaws.com')).toBe(false);
    expect(origin.test('https://sns.us-gov-west-1.amazonaws.com')).toBe(true);
  });

  it('refuses a message older than maxAgeMs (a replay) and one from the future', async () => {
    expect(await reason(notification(), SENT + 299_000)).toBe('ok');
    expect(await reason(notification(), SENT + 301_000)).toBe('expired');
    expect(await reason(notification(), SENT - 301_000)).toBe('not_yet_valid');
  });
});
