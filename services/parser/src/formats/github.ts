import { ParseError } from '../errors.js';
import { ignored, pushes } from './batch.js';
import {
  asObject,
  child,
  firstOf,
  isObject,
  need,
  parseJson,
  rawText,
  show,
  text,
  type Json,
} from './read.js';
import { bestDigest, configuredPrefix, nameWithHost, pushOf } from './reference.js';
import type { Format, Push } from './types.js';

const GHCR = 'ghcr.io';
const CONTAINER = new Set(['container', 'docker']);
const PUSH_ACTIONS = new Set(['published', 'updated']);

/**
 * GitHub Packages webhooks (`X-GitHub-Event: package`, legacy `registry_package`). A push is a
 * `published` or `updated` action on a container package; the image is
 * `ghcr.io/<owner>/<package>` lower-cased (the endpoint's registry host replaces `ghcr.io`, for
 * GitHub Enterprise Server). Tag: `package_version.container_metadata.tag.name` ("" = none);
 * digest: the first well-formed of `container_metadata.manifest.digest`, `…tag.digest`,
 * `package_version.version`, `package_version.name`. `ping` is a handshake; other events ignored.
 */
export const github: Format = (delivery) => {
  const body = asObject(parseJson(delivery.data), 'body');
  const event = (delivery.transport['x-github-event'] ?? inferEvent(body)).toLowerCase();
  if (event === 'ping') return ignored('handshake', 'GitHub ping');
  if (event !== 'package' && event !== 'registry_package') {
    return ignored('not_a_push', `GitHub event ${show(event)}`);
  }
  const action = need(body, 'action', 'body');
  if (!PUSH_ACTIONS.has(action.toLowerCase())) {
    return ignored(action === 'deleted' ? 'delete' : 'not_a_push', `action ${show(action)}`);
  }
  const pkg = asObject(firstOf(body['package'], body['registry_package']), `body.${event}`);
  if (!isContainer(pkg)) {
    return ignored('not_a_push', `package type ${show(pkg['package_type'])}, not a container`);
  }
  const host = configuredPrefix(delivery) ?? GHCR;
  return pushes(
    versionPush(pkg, body, (path) => nameWithHost(delivery, host, path, 'body', 'host')),
  );
};

/** Without the header (a replay stripped of it, a relay): the body's shape says which event. */
function inferEvent(body: Json): string {
  if (body['zen'] !== undefined && body['hook_id'] !== undefined) return 'ping';
  if (isObject(body['registry_package'])) return 'registry_package';
  if (isObject(body['package'])) return 'package';
  throw new ParseError('missing_field', 'no X-GitHub-Event header and the body names no package');
}

/** `package_type`, `ecosystem` or `registry.type` says container (or the old docker registry). */
function isContainer(pkg: Json): boolean {
  const kinds = [pkg['package_type'], pkg['ecosystem'], child(pkg, 'registry')?.['type']];
  return kinds.some((kind) => typeof kind === 'string' && CONTAINER.has(kind.toLowerCase()));
}

function versionPush(pkg: Json, body: Json, withHost: (path: string) => string): Push {
  const owner = firstOf(
    text(child(pkg, 'owner'), 'login'),
    text(pkg, 'namespace')?.split('/')[0],
    text(child(child(body, 'repository'), 'owner'), 'login'),
  );
  if (owner === undefined) {
    throw new ParseError('missing_field', 'body.package.owner.login must be a non-empty string');
  }
  const name = need(pkg, 'name', 'the package');
  const version = asObject(pkg['package_version'], 'body.package.package_version');
  const metadata = child(version, 'container_metadata');
  const tag = child(metadata, 'tag');
  const versionName = text(version, 'version');
  const digest = bestDigest(
    text(child(metadata, 'manifest'), 'digest'),
    text(tag, 'digest'),
    ...[versionName, text(version, 'name')].filter((v) => v?.startsWith('sha256:')),
  );
  // The old docker registry's events have no container_metadata: their version is the tag.
  const legacyTag = versionName?.startsWith('sha256:') === false ? versionName : undefined;
  const pushedAt = firstOf(
    plausible(text(version, 'updated_at')),
    plausible(text(version, 'created_at')),
    plausible(text(pkg, 'updated_at')),
  );
  return pushOf(
    { name: withHost(`${owner}/${name}`), tag: tag ? rawText(tag, 'name') : legacyTag, digest },
    'body.package.package_version',
    pushedAt,
  );
}

/** GitHub sends `0001-01-01T00:00:00Z` for times it does not know. */
function plausible(time: string | undefined): string | undefined {
  return time !== undefined && Date.parse(time) > Date.UTC(2000, 0, 1) ? time : undefined;
}
