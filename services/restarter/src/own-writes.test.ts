import { describe, expect, it } from 'vitest';
import { ANNOTATIONS } from '@onpush/kube';
import type { WorkloadSnapshot } from './decide.js';
import { OwnWrites } from './own-writes.js';

const web = { kind: 'Deployment', namespace: 'shop', name: 'web' } as const;
const api = { kind: 'Deployment', namespace: 'shop', name: 'api' } as const;

const snapshot = (resourceVersion: string, eventId?: string): WorkloadSnapshot => ({
  resourceVersion,
  annotations: eventId === undefined ? {} : { [ANNOTATIONS.eventId]: eventId },
  source: { metadata: { resourceVersion } },
});

describe('OwnWrites', () => {
  it("stands in for a view that does not show our last PATCH's mark, not for one that does", () => {
    const own = new OwnWrites();
    const before = snapshot('10');
    expect(own.freshest(web, before)).toBe(before); // nothing written yet
    own.patched(web, snapshot('11', 'evt-1'));
    expect(own.freshest(web, before)).toMatchObject({ resourceVersion: '11' });
    expect(own.freshest(web, before)).not.toHaveProperty('source'); // the whole object is not kept
    const after = snapshot('12', 'evt-1'); // the watch caught up (and saw a later status change)
    expect(own.freshest(web, after)).toBe(after);
    expect(own.freshest(api, before)).toBe(before); // another workload
    expect(own.freshest(web, undefined)).toBeUndefined(); // no view: the machine reads
  });

  it('forgets the least recently patched workload beyond its limit', () => {
    const own = new OwnWrites(2);
    const db = { ...web, name: 'db' };
    own.patched(web, snapshot('1', 'a'));
    own.patched(api, snapshot('2', 'b'));
    own.patched(web, snapshot('3', 'c')); // web is now the most recent
    own.patched(db, snapshot('4', 'd'));
    expect(own.size()).toBe(2);
    expect(own.freshest(api, snapshot('0'))).toMatchObject({ resourceVersion: '0' });
    expect(own.freshest(web, snapshot('0'))).toMatchObject({ resourceVersion: '3' });
  });
});
