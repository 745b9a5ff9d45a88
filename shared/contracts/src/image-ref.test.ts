import { describe, expect, it } from 'vitest';
import { imageRefFromParts, normalizeEventRef, parseDigest } from './event-ref.js';
import {
  ImageRefError,
  isNormalizedName,
  matchKey,
  normalizeImageRef,
  parseImageRef,
  splitReference,
} from './image-ref.js';
import type { ImageRef, ImageRefReason } from './image-ref.js';

const HEX = 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855';
const D = `sha256:${HEX}`;
const D512 = `sha512:${HEX}${HEX}`;
const GAR = 'us-east1-docker.pkg.dev/my-project/my-repo/hello-world';
const ECR = '123456789012.dkr.ecr.us-east-1.amazonaws.com';
const LONG_PATH = `${'a'.repeat(127)}/${'b'.repeat(127)}`; // 255 characters

type Mode = 'strict' | 'lenient';
// input, mode, registry, repository, tag, digest, canonical reference
type Accepted = [string, Mode, string, string, string | undefined, string | undefined, string];

// prettier-ignore
const accepted: Accepted[] = [
  ['nginx', 'strict', 'docker.io', 'library/nginx', 'latest', undefined, 'docker.io/library/nginx:latest'],
  ['nginx:1.25', 'strict', 'docker.io', 'library/nginx', '1.25', undefined, 'docker.io/library/nginx:1.25'],
  ['library/nginx', 'strict', 'docker.io', 'library/nginx', 'latest', undefined, 'docker.io/library/nginx:latest'],
  ['docker.io/redis', 'strict', 'docker.io', 'library/redis', 'latest', undefined, 'docker.io/library/redis:latest'],
  ['docker.io/library/redis:7', 'strict', 'docker.io', 'library/redis', '7', undefined, 'docker.io/library/redis:7'],
  ['index.docker.io/redis', 'strict', 'docker.io', 'library/redis', 'latest', undefined, 'docker.io/library/redis:latest'],
  ['index.docker.io/bitnami/redis:7.2', 'strict', 'docker.io', 'bitnami/redis', '7.2', undefined, 'docker.io/bitnami/redis:7.2'],
  ['registry-1.docker.io/library/nginx', 'strict', 'docker.io', 'library/nginx', 'latest', undefined, 'docker.io/library/nginx:latest'],
  ['registry.hub.docker.com/nginx:1', 'strict', 'docker.io', 'library/nginx', '1', undefined, 'docker.io/library/nginx:1'],
  ['bitnami/redis', 'strict', 'docker.io', 'bitnami/redis', 'latest', undefined, 'docker.io/bitnami/redis:latest'],
  ['localhost:5000/team/app:1.2', 'strict', 'localhost:5000', 'team/app', '1.2', undefined, 'localhost:5000/team/app:1.2'],
  ['myreg:5000/app', 'strict', 'myreg:5000', 'app', 'latest', undefined, 'myreg:5000/app:latest'],
  ['localhost/app', 'strict', 'localhost', 'app', 'latest', undefined, 'localhost/app:latest'],
  ['localhost', 'strict', 'docker.io', 'library/localhost', 'latest', undefined, 'docker.io/library/localhost:latest'],
  ['localhost:5000', 'strict', 'docker.io', 'library/localhost', '5000', undefined, 'docker.io/library/localhost:5000'],
  ['Example.COM/app', 'strict', 'example.com', 'app', 'latest', undefined, 'example.com/app:latest'],
  ['MyReg/app:2', 'strict', 'MyReg', 'app', '2', undefined, 'MyReg/app:2'],
  ['MyReg.Example.com:5000/app', 'strict', 'myreg.example.com:5000', 'app', 'latest', undefined, 'myreg.example.com:5000/app:latest'],
  ['example.com/redis', 'strict', 'example.com', 'redis', 'latest', undefined, 'example.com/redis:latest'],
  [`${GAR}@${D}`, 'strict', 'us-east1-docker.pkg.dev', 'my-project/my-repo/hello-world', undefined, D, `${GAR}@${D}`],
  [`${GAR}:1.1`, 'strict', 'us-east1-docker.pkg.dev', 'my-project/my-repo/hello-world', '1.1', undefined, `${GAR}:1.1`],
  ['gcr.io/my-project/app:v1', 'strict', 'gcr.io', 'my-project/app', 'v1', undefined, 'gcr.io/my-project/app:v1'],
  ['ghcr.io/octo-org/octo-app:main', 'strict', 'ghcr.io', 'octo-org/octo-app', 'main', undefined, 'ghcr.io/octo-org/octo-app:main'],
  [`${ECR}/team/svc:2024.01.02`, 'strict', ECR, 'team/svc', '2024.01.02', undefined, `${ECR}/team/svc:2024.01.02`],
  ['myregistry.azurecr.io/samples/nginx:v1', 'strict', 'myregistry.azurecr.io', 'samples/nginx', 'v1', undefined, 'myregistry.azurecr.io/samples/nginx:v1'],
  ['quay.io/coreos/etcd:v3.5.0', 'strict', 'quay.io', 'coreos/etcd', 'v3.5.0', undefined, 'quay.io/coreos/etcd:v3.5.0'],
  [`nginx@${D}`, 'strict', 'docker.io', 'library/nginx', undefined, D, `docker.io/library/nginx@${D}`],
  [`nginx:1.25@${D}`, 'strict', 'docker.io', 'library/nginx', '1.25', D, `docker.io/library/nginx:1.25@${D}`],
  [`localhost:5000/app:1@${D}`, 'strict', 'localhost:5000', 'app', '1', D, `localhost:5000/app:1@${D}`],
  [`app@${D512}`, 'strict', 'docker.io', 'library/app', undefined, D512, `docker.io/library/app@${D512}`],
  ['a/b/c/d/e:tag', 'strict', 'docker.io', 'a/b/c/d/e', 'tag', undefined, 'docker.io/a/b/c/d/e:tag'],
  ['app:v1.2.3-rc_1', 'strict', 'docker.io', 'library/app', 'v1.2.3-rc_1', undefined, 'docker.io/library/app:v1.2.3-rc_1'],
  ['app:Latest', 'strict', 'docker.io', 'library/app', 'Latest', undefined, 'docker.io/library/app:Latest'],
  ['app:_x', 'strict', 'docker.io', 'library/app', '_x', undefined, 'docker.io/library/app:_x'],
  ['my_app/web-server__x/a.b:1', 'strict', 'docker.io', 'my_app/web-server__x/a.b', '1', undefined, 'docker.io/my_app/web-server__x/a.b:1'],
  ['a-b--c/x', 'strict', 'docker.io', 'a-b--c/x', 'latest', undefined, 'docker.io/a-b--c/x:latest'],
  ['[::1]:5000/app', 'strict', '[::1]:5000', 'app', 'latest', undefined, '[::1]:5000/app:latest'],
  [`example.com/${LONG_PATH}`, 'strict', 'example.com', LONG_PATH, 'latest', undefined, `example.com/${LONG_PATH}:latest`],
  [`app:${'t'.repeat(128)}`, 'strict', 'docker.io', 'library/app', 't'.repeat(128), undefined, `docker.io/library/app:${'t'.repeat(128)}`],
  ['ghcr.io/MyOrg/App:1', 'lenient', 'ghcr.io', 'myorg/app', '1', undefined, 'ghcr.io/myorg/app:1'],
  ['  nginx:1.25  ', 'lenient', 'docker.io', 'library/nginx', '1.25', undefined, 'docker.io/library/nginx:1.25'],
  ['Nginx', 'lenient', 'docker.io', 'library/nginx', 'latest', undefined, 'docker.io/library/nginx:latest'],
  ['Index.Docker.IO/Team/App:V1', 'lenient', 'docker.io', 'team/app', 'V1', undefined, 'docker.io/team/app:V1'],
];

// input, mode, reason
// prettier-ignore
const rejected: [string, Mode, ImageRefReason][] = [
  ['', 'strict', 'empty'],
  ['   ', 'lenient', 'empty'],
  ['https://example.com/app', 'strict', 'scheme'],
  ['docker://nginx', 'lenient', 'scheme'],
  ['a//b', 'strict', 'empty_component'],
  ['app/', 'strict', 'bad_separator'],
  ['/app', 'strict', 'bad_separator'],
  ['example.com/', 'strict', 'bad_separator'],
  ['c/a..b', 'strict', 'bad_separator'],
  ['a..b/c', 'strict', 'bad_host'],
  ['c/a_', 'strict', 'bad_separator'],
  ['-app', 'strict', 'bad_separator'],
  ['app!/x', 'strict', 'bad_character'],
  ['nginx:', 'strict', 'bad_tag'],
  ['app:1:2', 'strict', 'bad_tag'],
  ['app:-x', 'strict', 'bad_tag'],
  [`app:${'t'.repeat(129)}`, 'strict', 'bad_tag'],
  ['nginx@sha256:6ec128e26cd5', 'strict', 'bad_digest'],
  ['nginx@sha256:6ec128e26cd5...', 'lenient', 'bad_digest'],
  [`nginx@sha256:${HEX.toUpperCase()}`, 'strict', 'bad_digest'],
  ['nginx@', 'strict', 'bad_digest'],
  [`nginx@md5:${HEX}`, 'strict', 'bad_digest'],
  [HEX, 'strict', 'image_id'],
  [D, 'lenient', 'image_id'],
  ['a'.repeat(256), 'strict', 'too_long'],
  [`example.com/${'a'.repeat(128)}/${'b'.repeat(127)}`, 'strict', 'too_long'],
  ['ngi nx', 'lenient', 'whitespace'],
  [' nginx', 'strict', 'whitespace'],
  ['team/App', 'strict', 'uppercase'],
  ['ghcr.io/MyOrg/app', 'strict', 'uppercase'],
  ['Nginx', 'strict', 'uppercase'],
  [`@${D}`, 'strict', 'empty'],
  [':tag', 'strict', 'empty'],
  ['example.com:99999/app', 'strict', 'bad_host'],
  ['exa_mple.com/app', 'strict', 'bad_host'],
  ['example.com:/app', 'strict', 'bad_host'],
];

function parse(input: string, mode: Mode): ImageRef {
  return mode === 'strict' ? parseImageRef(input) : normalizeImageRef(input);
}

function reasonOf(run: () => unknown): ImageRefReason | 'no error' {
  try {
    run();
    return 'no error';
  } catch (error) {
    if (!(error instanceof ImageRefError)) throw error;
    return error.reason;
  }
}

describe('parseImageRef / normalizeImageRef', () => {
  it.each(accepted)(
    '%j (%s) → %s/%s',
    (input, mode, registry, repository, tag, digest, reference) => {
      const name = `${registry}/${repository}`;
      const expected: ImageRef = {
        registry,
        repository,
        name,
        ...(tag === undefined ? {} : { tag }),
        ...(digest === undefined ? {} : { digest }),
        reference,
      };
      expect(parse(input, mode)).toStrictEqual(expected);
    },
  );

  it.each(rejected)('%j (%s) is rejected: %s', (input, mode, reason) => {
    expect(reasonOf(() => parse(input, mode))).toBe(reason);
  });

  it('rejects with a non-retryable ImageRefError naming the input', () => {
    const error = (() => {
      try {
        parseImageRef('https://example.com/app');
      } catch (e) {
        return e;
      }
      return undefined;
    })();
    expect(error).toBeInstanceOf(ImageRefError);
    expect(error).toMatchObject({
      name: 'ImageRefError',
      type: 'invalid_reference',
      retryable: false,
    });
    expect((error as Error).message).toContain('"https://example.com/app"');
  });

  it('normalizes a reference to itself (idempotent)', () => {
    for (const [input, mode] of accepted) {
      const once = parse(input, mode);
      expect(parseImageRef(once.reference)).toStrictEqual(once);
    }
  });
});

describe('matchKey', () => {
  it('is name:tag, with latest implied, and undefined for a digest-only reference', () => {
    expect(matchKey(parseImageRef('nginx'))).toBe('docker.io/library/nginx:latest');
    expect(matchKey(parseImageRef(`nginx:1.25@${D}`))).toBe('docker.io/library/nginx:1.25');
    expect(matchKey(parseImageRef(`nginx@${D}`))).toBeUndefined();
  });

  it('gives the same key to every spelling of one image', () => {
    const spellings = ['redis', 'docker.io/redis', 'index.docker.io/library/redis:latest'];
    const keys = spellings.map((s) => matchKey(normalizeImageRef(s)));
    expect(new Set(keys)).toStrictEqual(new Set(['docker.io/library/redis:latest']));
  });
});

describe('isNormalizedName', () => {
  it.each([
    ['docker.io/library/nginx', true],
    ['nginx', false],
    ['docker.io/library/nginx:1', false],
    ['index.docker.io/library/nginx', false],
    ['Example.com/app', false],
  ])('%s → %s', (name, expected) => {
    expect(isNormalizedName(name)).toBe(expected);
  });
});

describe('event references', () => {
  it('splits a full Artifact Registry reference without validating the digest', () => {
    expect(splitReference(`${GAR}@sha256:6ec128e26cd5...`)).toStrictEqual({
      name: GAR,
      digest: 'sha256:6ec128e26cd5...',
    });
    expect(splitReference('localhost:5000/app:1.2')).toStrictEqual({
      name: 'localhost:5000/app',
      tag: '1.2',
    });
  });

  it('checks digests without throwing', () => {
    expect(parseDigest(D)).toStrictEqual({ digest: D, malformed: false });
    expect(parseDigest(undefined)).toStrictEqual({ digest: undefined, malformed: false });
    expect(parseDigest('')).toStrictEqual({ digest: undefined, malformed: false });
    expect(parseDigest('xxxx')).toStrictEqual({ digest: undefined, malformed: true });
    expect(parseDigest(`sha256:${HEX.slice(4)}`)).toStrictEqual({
      digest: undefined,
      malformed: true,
    });
  });

  it('drops a malformed digest and keeps the tag (the Artifact Registry docs example)', () => {
    const event = {
      action: 'INSERT',
      digest: 'us-west1-docker.pkg.dev/my-project/my-repo/hello-world@sha256:6ec128e26cd5...',
      tag: 'us-west1-docker.pkg.dev/my-project/my-repo/hello-world:1.1',
    };
    const parts = { ...splitReference(event.tag), digest: splitReference(event.digest).digest };
    const { ref, droppedDigest } = imageRefFromParts(parts);
    expect(ref.reference).toBe('us-west1-docker.pkg.dev/my-project/my-repo/hello-world:1.1');
    expect(droppedDigest).toBe('sha256:6ec128e26cd5...');
  });

  it('keeps a valid digest next to the tag, and lower-cases the path', () => {
    expect(normalizeEventRef(`ghcr.io/Octo/App:v1@${D}`)).toStrictEqual({
      ref: parseImageRef(`ghcr.io/octo/app:v1@${D}`),
    });
  });

  it('treats an empty tag or a tag equal to the digest as no tag', () => {
    expect(imageRefFromParts({ name: 'ghcr.io/o/a', tag: '', digest: D }).ref.reference).toBe(
      `ghcr.io/o/a@${D}`,
    );
    expect(
      imageRefFromParts({ name: 'harbor.example.com/p/a', tag: D, digest: D }).ref.tag,
    ).toBeUndefined();
  });

  it('rejects a malformed digest when no tag is left to act on', () => {
    expect(reasonOf(() => normalizeEventRef(`${GAR}@sha256:6ec128e26cd5...`))).toBe('bad_digest');
  });
});
