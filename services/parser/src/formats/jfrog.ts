import { ParseError } from '../errors.js';
import { ignored, pushes } from './batch.js';
import { asObject, firstOf, need, parseJson, show, text } from './read.js';
import { configuredPrefix, nameWithHost, pushOf } from './reference.js';
import type { Delivery, Format } from './types.js';

const REPO_KEY = /\{repo_key\}/g;
const HEX_DIGEST = /^[a-fA-F0-9]{64}$/;

/**
 * JFrog Artifactory webhooks: `domain: docker`, `event_type: pushed` with `data.repo_key`,
 * `data.image_name`, `data.tag`, `data.sha256` (hex, without `sha256:`). The body names no
 * registry host: the endpoint's `Onpush-Registry-Host` is required (`missing_registry_host`). It
 * is the prefix workloads put before the image name, with `{repo_key}` replaced by
 * `data.repo_key`: `art.example.com:5000` (port or subdomain method),
 * `art.example.com/{repo_key}` (repository path method), `{repo_key}.art.example.com`.
 */
export const jfrog: Format = (delivery) => {
  const body = asObject(parseJson(delivery.data), 'body');
  const domain = need(body, 'domain', 'body');
  if (domain.toLowerCase() !== 'docker') return ignored('not_a_push', `domain ${show(domain)}`);
  const data = asObject(body['data'], 'body.data');
  const eventType = firstOf(text(body, 'event_type'), text(data, 'event_type'));
  if (eventType === undefined) {
    throw new ParseError('missing_field', 'body.event_type must be a non-empty string');
  }
  if (eventType.toLowerCase() !== 'pushed') {
    const reason = eventType.toLowerCase() === 'deleted' ? 'delete' : 'not_a_push';
    return ignored(reason, `docker event ${show(eventType)}`);
  }
  const image = need(data, 'image_name', 'body.data');
  const sha = text(data, 'sha256');
  const digest = sha !== undefined && HEX_DIGEST.test(sha) ? `sha256:${sha.toLowerCase()}` : sha;
  const name = nameWithHost(
    delivery,
    prefix(delivery, text(data, 'repo_key')),
    image,
    'body',
    'host',
  );
  return pushes(pushOf({ name, tag: text(data, 'tag'), digest }, 'body.data'));
};

function prefix(delivery: Delivery, repoKey: string | undefined): string {
  const configured = configuredPrefix(delivery);
  if (configured === undefined) {
    throw new ParseError(
      'missing_registry_host',
      'JFrog events name no registry host: configure the endpoint registry host (Onpush-Registry-Host)',
    );
  }
  if (!configured.includes('{repo_key}')) return configured;
  if (repoKey === undefined) {
    throw new ParseError('missing_field', 'body.data.repo_key must be a non-empty string');
  }
  return configured.replace(REPO_KEY, repoKey.toLowerCase());
}
