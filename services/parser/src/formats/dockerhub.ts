import { ParseError } from '../errors.js';
import { pushes } from './batch.js';
import { asObject, need, parseJson, text, timeOf } from './read.js';
import { pushOf } from './reference.js';
import type { Format } from './types.js';

/**
 * Docker Hub webhooks: every webhook is a push of `repository.repo_name` (else
 * `namespace/name`) with tag `push_data.tag`, on `docker.io` (official images are `library/…`).
 * Docker Hub sends no digest, so a push without a tag cannot name an image: `missing_field`.
 */
export const dockerhub: Format = (delivery) => {
  const body = asObject(parseJson(delivery.data), 'body');
  const pushData = asObject(body['push_data'], 'body.push_data');
  const repository = asObject(body['repository'], 'body.repository');
  const namespace = text(repository, 'namespace');
  const short = text(repository, 'name');
  const repoName =
    text(repository, 'repo_name') ??
    (namespace !== undefined && short !== undefined ? `${namespace}/${short}` : undefined);
  if (repoName === undefined) {
    throw new ParseError(
      'missing_field',
      'body.repository.repo_name (or namespace and name) must be a non-empty string',
    );
  }
  const tag = need(pushData, 'tag', 'body.push_data');
  return pushes(
    pushOf({ name: `docker.io/${repoName}`, tag }, 'body', timeOf(pushData['pushed_at'])),
  );
};
