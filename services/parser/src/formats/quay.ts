import { ParseError } from '../errors.js';
import { batch, entries, ignored } from './batch.js';
import { asObject, isObject, parseJson, show, text, type Json } from './read.js';
import { checkHost, configuredPrefix, nameWithHost, pushOf } from './reference.js';
import type { Delivery, Format } from './types.js';

/** Fields of Quay's other notifications (builds, vulnerabilities, mirroring), never of a push. */
const OTHER_NOTIFICATIONS = ['build_id', 'trigger_kind', 'docker_tags', 'vulnerability'];

/**
 * Quay "repository push" notifications: `docker_url` (`host/namespace/repo`) and
 * `updated_tags` — a list, or in old payloads an object keyed by tag (values are image ids and
 * are not used). Each tag is a push, keyed by its index. Quay sends no digest.
 */
export const quay: Format = (delivery) => {
  const body = asObject(parseJson(delivery.data), 'body');
  const updated = body['updated_tags'];
  if (updated === undefined || updated === null) {
    if (OTHER_NOTIFICATIONS.some((field) => body[field] !== undefined)) {
      return ignored('not_a_push', 'a Quay notification other than a repository push');
    }
    throw new ParseError('missing_field', 'body.updated_tags must be a list of tags');
  }
  const tags = isObject(updated) ? Object.keys(updated) : updated;
  const name = imageName(body, delivery);
  return batch(entries(tags, 'body.updated_tags'), {
    where: 'updated_tags',
    entry: (tag, where) => {
      if (typeof tag !== 'string' || tag.trim() === '') {
        throw new ParseError('missing_field', `${where} must be a tag, not ${show(tag)}`);
      }
      return { kind: 'pushes', pushes: [pushOf({ name, tag }, where)] };
    },
  });
};

/** `docker_url`, else the endpoint's registry host and `repository`. */
function imageName(body: Json, delivery: Delivery): string {
  const url = text(body, 'docker_url')?.replace(/^https?:\/\//i, '');
  if (url !== undefined) {
    const slash = url.indexOf('/');
    if (slash < 0)
      throw new ParseError('invalid_reference', `body.docker_url ${show(url)} has no path`);
    return `${checkHost(url.slice(0, slash), 'body.docker_url')}${url.slice(slash)}`;
  }
  const repository = text(body, 'repository');
  if (repository === undefined || configuredPrefix(delivery) === undefined) {
    throw new ParseError('missing_field', 'body.docker_url must be a non-empty string');
  }
  return nameWithHost(delivery, undefined, repository, 'body', 'body.docker_url');
}
