import { describe, expect, it } from 'vitest';
import { D1, expected, failure, fixture, ignoredReason, pushed } from './harness.test-support.js';

const bridge = (detail: Record<string, unknown>, extra: Record<string, unknown> = {}) => ({
  version: '0',
  id: 'e-1',
  'detail-type': 'ECR Image Action',
  source: 'aws.ecr',
  account: '123456789012',
  time: '2026-11-26T09:00:00Z',
  region: 'eu-west-1',
  resources: [],
  detail: {
    result: 'SUCCESS',
    'repository-name': 'team/app',
    'action-type': 'PUSH',
    'image-digest': D1,
    'image-tag': 'v1',
    ...detail,
  },
  ...extra,
});
const sns = (type: string, message?: unknown) =>
  JSON.stringify({
    Type: type,
    MessageId: 'm-1',
    TopicArn: 'arn:aws:sns:eu-west-1:123456789012:ecr',
    ...(message !== undefined
      ? { Message: typeof message === 'string' ? message : JSON.stringify(message) }
      : {}),
    Timestamp: '2026-11-26T09:00:01Z',
  });

describe('parser: ECR through EventBridge', () => {
  it('keeps the tag of the documented event and drops its 60-hex digest', async () => {
    expect(await pushed('ecr', fixture('ecr-eventbridge-push.json'))).toEqual([
      expected({
        id: 'ecr:d1',
        source: 'ecr',
        image: '123456789012.dkr.ecr.us-west-2.amazonaws.com/my-repository-name',
        tag: 'latest',
        pushedAt: '2019-11-16T01:54:34.000Z',
      }),
    ]);
  });

  it('reads the event out of an SNS notification envelope', async () => {
    expect(await pushed('ecr', sns('Notification', bridge({})))).toEqual([
      expected({
        id: 'ecr:d1',
        source: 'ecr',
        image: '123456789012.dkr.ecr.eu-west-1.amazonaws.com/team/app',
        tag: 'v1',
        digest: D1,
        pushedAt: '2026-11-26T09:00:00.000Z',
      }),
    ]);
  });

  it('publishes a push without image-tag by digest, and names China-region hosts .com.cn', async () => {
    const [push] = await pushed(
      'ecr',
      JSON.stringify(bridge({ 'image-tag': undefined }, { region: 'cn-north-1' })),
    );
    expect(push).toMatchObject({
      image: '123456789012.dkr.ecr.cn-north-1.amazonaws.com.cn/team/app',
      digest: D1,
    });
    expect(push?.tag).toBeUndefined();
  });

  it.each([
    ['an SNS subscription confirmation', sns('SubscriptionConfirmation'), 'handshake'],
    ['an SNS unsubscribe confirmation', sns('UnsubscribeConfirmation'), 'handshake'],
    ['a delete', JSON.stringify(bridge({ 'action-type': 'DELETE' })), 'delete'],
    ['a failed push', JSON.stringify(bridge({ result: 'FAILURE' })), 'failed'],
    ['a scan', JSON.stringify(bridge({}, { 'detail-type': 'ECR Image Scan' })), 'scan'],
    [
      'a replication',
      JSON.stringify(bridge({}, { 'detail-type': 'ECR Replication Action' })),
      'replication',
    ],
  ])('ends %s as ignored (%s)', async (_name, body, reason) => {
    expect(await ignoredReason('ecr', body)).toBe(reason);
  });

  it.each([
    ['an SNS notification whose Message is not JSON', sns('Notification', 'hello'), 'invalid_json'],
    ['an SNS notification without Message', sns('Notification'), 'missing_field'],
    ['no detail-type', '{"detail":{}}', 'missing_field'],
    [
      'no repository-name',
      JSON.stringify(bridge({ 'repository-name': undefined })),
      'missing_field',
    ],
    ['a bad account', JSON.stringify(bridge({}, { account: 'me' })), 'missing_field'],
    ['a bad region', JSON.stringify(bridge({}, { region: 'mars' })), 'missing_field'],
    [
      'no tag and a malformed digest',
      JSON.stringify(bridge({ 'image-tag': undefined, 'image-digest': 'sha256:7f5b' })),
      'invalid_reference',
    ],
  ])('dead-letters %s as %s', async (_name, body, type) => {
    expect(await failure('ecr', body)).toMatchObject({ type, retryable: false });
  });
});
