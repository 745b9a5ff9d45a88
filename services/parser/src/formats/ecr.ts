import { ParseError } from '../errors.js';
import { ignored, pushes } from './batch.js';
import { asObject, lookup, need, parseJson, show, text, type Json } from './read.js';
import { configuredPrefix, nameWithHost, pushOf } from './reference.js';
import type { Delivery, Format, FormatResult } from './types.js';

const SNS_HANDSHAKES = new Set(['SubscriptionConfirmation', 'UnsubscribeConfirmation']);
const DETAIL_TYPES: Readonly<Record<string, string>> = {
  'ECR Image Scan': 'scan',
  'ECR Scan Resource Change': 'scan',
  'ECR Replication Action': 'replication',
};
const ACCOUNT = /^\d{12}$/;
const REGION = /^[a-z]{2}(?:-[a-z]+)+-\d{1,2}$/;

/**
 * AWS ECR through EventBridge: an EventBridge event (API destination, SNS raw delivery) or an SNS
 * envelope (`Type: Notification`, the event as a JSON string in `Message`). A push is
 * `detail-type` `ECR Image Action` with `action-type` PUSH and `result` SUCCESS; the image is
 * `<account>.dkr.ecr.<region>.amazonaws.com[.cn]/<repository-name>`, tag `image-tag` (optional),
 * digest `image-digest`. SNS subscription confirmations are handshakes; the rest is ignored.
 */
export const ecr: Format = (delivery) => {
  const body = asObject(parseJson(delivery.data), 'body');
  const snsType = text(body, 'Type');
  if (snsType === undefined) return eventBridge(body, 'body', delivery);
  if (SNS_HANDSHAKES.has(snsType)) return ignored('handshake', `SNS ${snsType}`);
  if (snsType !== 'Notification') return ignored('not_a_push', `SNS message type ${show(snsType)}`);
  const message = need(body, 'Message', 'body');
  return eventBridge(
    asObject(parseJson(message, 'body.Message'), 'body.Message'),
    'body.Message',
    delivery,
  );
};

function eventBridge(event: Json, where: string, delivery: Delivery): FormatResult {
  const detailType = need(event, 'detail-type', where);
  if (detailType !== 'ECR Image Action') {
    return ignored(
      lookup(DETAIL_TYPES, detailType) ?? 'not_a_push',
      `detail-type ${show(detailType)}`,
    );
  }
  const detail = asObject(event['detail'], `${where}.detail`);
  const action = need(detail, 'action-type', `${where}.detail`).toUpperCase();
  if (action !== 'PUSH') {
    return ignored(action === 'DELETE' ? 'delete' : 'not_a_push', `action-type ${show(action)}`);
  }
  const result = text(detail, 'result');
  if (result !== undefined && result.toUpperCase() !== 'SUCCESS') {
    return ignored('failed', `a push with result ${show(result)}`);
  }
  const repository = need(detail, 'repository-name', `${where}.detail`);
  const name = nameWithHost(
    delivery,
    registryHost(event, where, delivery),
    repository,
    where,
    `${where}.account`,
  );
  return pushes(
    pushOf(
      { name, tag: text(detail, 'image-tag'), digest: text(detail, 'image-digest') },
      `${where}.detail`,
      text(event, 'time'),
    ),
  );
}

/** `<account>.dkr.ecr.<region>.amazonaws.com` (`.com.cn` in the China regions). */
function registryHost(event: Json, where: string, delivery: Delivery): string | undefined {
  const account = event['account'];
  const region = text(event, 'region');
  if (account === undefined && region === undefined && configuredPrefix(delivery) !== undefined) {
    return undefined;
  }
  const id = typeof account === 'number' ? String(account) : text(event, 'account');
  if (id === undefined || !ACCOUNT.test(id)) {
    throw new ParseError('missing_field', `${where}.account must be a 12-digit AWS account id`);
  }
  if (region === undefined || !REGION.test(region)) {
    throw new ParseError(
      'missing_field',
      `${where}.region must be an AWS region, not ${show(region)}`,
    );
  }
  return `${id}.dkr.ecr.${region}.amazonaws.com${region.startsWith('cn-') ? '.cn' : ''}`;
}
