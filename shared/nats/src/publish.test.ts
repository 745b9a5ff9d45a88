import { describe, expect, it } from 'vitest';
import { dedupId, keyOfDedupId } from './publish.js';

describe('de-duplication ids', () => {
  it('scope a key by its subject, so one key on two kinds of message is two messages', () => {
    expect(dedupId('onpush.raw.gar', 'gar:1')).toBe('onpush.raw.gar|gar:1');
    expect(dedupId('onpush.pushed', 'gar:1')).not.toBe(dedupId('onpush.raw.gar', 'gar:1'));
  });

  it('give every outcome subject one scope: a second fate under one key is a duplicate', () => {
    expect(dedupId('onpush.outcome.restarted', 'e:Deployment/a/b:outcome')).toBe(
      dedupId('onpush.outcome.unchanged', 'e:Deployment/a/b:outcome'),
    );
  });

  it('read the key back from a stored id, in the outcome scope or the older subject scope', () => {
    const key = 'gar:1:resolver';
    expect(keyOfDedupId('onpush.outcome.ignored', dedupId('onpush.outcome.ignored', key))).toBe(
      key,
    );
    expect(keyOfDedupId('onpush.outcome.ignored', `onpush.outcome.ignored|${key}`)).toBe(key);
    expect(keyOfDedupId('onpush.raw.gar', 'onpush.raw.gar|gar:1')).toBe('gar:1');
    expect(keyOfDedupId('onpush.raw.gar', 'plain')).toBe('plain');
  });
});
