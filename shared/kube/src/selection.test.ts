import { describe, expect, it } from 'vitest';
import { matchesSelector, parseSelector } from './selection.js';

const matches = (selector: string, labels: Record<string, string> | undefined) =>
  matchesSelector(parseSelector(selector), labels);

describe('label selectors, evaluated as the API server does', () => {
  it('equality: =, == and != (which holds when the label is absent)', () => {
    expect(matches('team=web', { team: 'web' })).toBe(true);
    expect(matches('team==web', { team: 'api' })).toBe(false);
    expect(matches('team!=web', { team: 'api' })).toBe(true);
    expect(matches('team!=web', {})).toBe(true);
    expect(matches('team!=web', { team: 'web' })).toBe(false);
    expect(matches('team=', { team: '' })).toBe(true);
  });

  it('sets, existence and several requirements together', () => {
    const labels = { 'app.kubernetes.io/name': 'web', tier: 'front' };
    expect(matches('tier in (front, back)', labels)).toBe(true);
    expect(matches('tier notin (batch)', labels)).toBe(true);
    expect(matches('tier notin (front)', labels)).toBe(false);
    expect(matches('absent notin (x)', labels)).toBe(true);
    expect(matches('app.kubernetes.io/name', labels)).toBe(true);
    expect(matches('!canary', labels)).toBe(true);
    expect(matches('!tier', labels)).toBe(false);
    expect(matches('app.kubernetes.io/name=web,tier in (front),!canary', labels)).toBe(true);
    expect(matches('app.kubernetes.io/name=web,tier=back', labels)).toBe(false);
    expect(matches('', undefined)).toBe(true);
    expect(matches('team', undefined)).toBe(false);
  });

  it('throws on what is not a selector', () => {
    for (const bad of ['a;b', 'team in web', 'tier in (a b)', '=web', 'team=web,', 'a=(b)']) {
      expect(() => parseSelector(bad), bad).toThrow(/not a label requirement/);
    }
  });
});
