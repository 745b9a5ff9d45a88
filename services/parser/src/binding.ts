// What the ingest endpoint's configuration says about its pushes, which outranks what the body
// says: the registry host (`Onpush-Registry-Host`) and the repositories it is bound to
// (`Onpush-Repositories`, globs). Matching a glob simulates all positions of the pattern at once (a set of states per character), so it
// takes at most length × pattern steps whatever the input: no backtracking.
import { HEADERS, imageRefFromParts } from '@onpush/contracts';
import type { Incoming } from '@onpush/service';
import { ParseError } from './errors.js';
import { checkHost } from './formats/reference.js';
import type { Push } from './formats/index.js';

type Token = { kind: 'char'; char: string } | { kind: 'one' | 'segment' | 'any' };

/** `*`: any run within a segment; `**`: any run, `/` included; `?`: one character but `/`. */
function tokens(pattern: string): Token[] {
  const out: Token[] = [];
  for (let i = 0; i < pattern.length; i += 1) {
    const char = pattern[i]!;
    if (char === '*' && pattern[i + 1] === '*') {
      out.push({ kind: 'any' });
      while (pattern[i + 1] === '*') i += 1;
    } else if (char === '*') out.push({ kind: 'segment' });
    else if (char === '?') out.push({ kind: 'one' });
    else out.push({ kind: 'char', char });
  }
  return out;
}

/** Adds the states reachable without reading a character (a star may match nothing). */
function closure(pattern: readonly Token[], states: boolean[]): boolean[] {
  for (let i = 0; i < pattern.length; i += 1) {
    const kind = pattern[i]!.kind;
    if (states[i] && (kind === 'segment' || kind === 'any')) states[i + 1] = true;
  }
  return states;
}

function step(pattern: readonly Token[], states: readonly boolean[], char: string): boolean[] {
  const next = new Array<boolean>(pattern.length + 1).fill(false);
  pattern.forEach((token, i) => {
    if (!states[i]) return;
    if (token.kind === 'char' && token.char === char) next[i + 1] = true;
    else if (token.kind === 'one' && char !== '/') next[i + 1] = true;
    else if (token.kind === 'segment' && char !== '/') next[i] = true;
    else if (token.kind === 'any') next[i] = true;
  });
  return closure(pattern, next);
}

/** Whether `repository` matches the glob `pattern` as a whole. */
export function globMatches(pattern: string, repository: string): boolean {
  const parsed = tokens(pattern);
  let states = closure(parsed, [true, ...new Array<boolean>(parsed.length).fill(false)]);
  for (const char of repository) {
    states = step(parsed, states, char);
    if (!states.includes(true)) return false;
  }
  return states[parsed.length] === true;
}

/** The globs of the delivery's binding, or undefined when its endpoint is bound to none. */
export function bindingOf(msg: Incoming): string[] | undefined {
  const value = msg.headers[HEADERS.repositories];
  if (value === undefined) return undefined;
  return value
    .split(',')
    .map((p) => p.trim())
    .filter((p) => p !== '');
}

/** Whether `repository` is allowed by `binding` (any glob; no binding allows everything). */
export function repositoryAllowed(binding: readonly string[] | undefined, repository: string) {
  return binding === undefined || binding.some((pattern) => globMatches(pattern, repository));
}

/**
 * The push as the endpoint's configuration has it: on the configured registry host whatever host
 * the body named, and a `repository_not_allowed` ParseError when the endpoint is bound to
 * repositories and this is none of them.
 */
export function boundPush(push: Push, msg: Incoming): Push {
  const prefix = msg.headers[HEADERS.registryHost]
    ?.trim()
    .replace(/^https?:\/\//i, '')
    .replace(/\/+$/, '');
  let bound = push;
  // A template (JFrog's `{repo_key}`) is filled in by the format, from the configuration too.
  if (prefix && !prefix.includes('{')) {
    const host = checkHost(prefix.split('/')[0]!, "the endpoint's registryHost");
    if (host !== push.ref.registry) {
      const { ref } = imageRefFromParts({
        name: `${host}/${push.ref.repository}`,
        tag: push.ref.tag,
        digest: push.ref.digest,
      });
      bound = { ...push, ref };
    }
  }
  const binding = bindingOf(msg);
  if (!repositoryAllowed(binding, bound.ref.repository))
    throw new ParseError(
      'repository_not_allowed',
      `repository ${JSON.stringify(bound.ref.repository.slice(0, 255))} is not among the endpoint's repositories (${binding!.join(', ')})`,
    );
  return bound;
}
