import { describe, expect, it } from 'vitest';
import { NATS_IDENTITIES, NATS_PERMISSIONS, inboxPrefix } from './permissions.js';
import { STAGES, TOPOLOGY, restartSubject, rawSubject } from './subjects.js';

/** Whether NATS subject pattern `pattern` covers `subject` (`*` one token, `>` the rest). */
function covers(pattern: string, subject: string): boolean {
  const p = pattern.split('.');
  const s = subject.split('.');
  for (let i = 0; i < p.length; i++) {
    if (p[i] === '>') return s.length > i;
    if (s[i] === undefined || (p[i] !== '*' && p[i] !== s[i])) return false;
  }
  return p.length === s.length;
}
const mayPublish = (id: (typeof NATS_IDENTITIES)[number], subject: string): boolean =>
  NATS_PERMISSIONS[id].publish.some((p) => covers(p, subject));

describe('NATS permissions', () => {
  it('lets only the resolver (and the dlq-manager replaying) publish restart requests', () => {
    const who = NATS_IDENTITIES.filter(
      (id) => id !== 'admin' && mayPublish(id, restartSubject('kube-system')),
    );
    expect(who).toEqual(['resolver', 'dlq-manager']);
  });

  it('lets only ingest (and the dlq-manager replaying) publish raw deliveries', () => {
    const who = NATS_IDENTITIES.filter((id) => id !== 'admin' && mayPublish(id, rawSubject('gar')));
    expect(who).toEqual(['ingest', 'dlq-manager']);
  });

  it('gives no service a stream, bucket or account-wide JetStream call', () => {
    for (const id of STAGES) {
      for (const subject of [
        '$JS.API.STREAM.CREATE.ONPUSH',
        '$JS.API.STREAM.DELETE.ONPUSH',
        '$JS.API.STREAM.UPDATE.ONPUSH',
        '$JS.API.STREAM.PURGE.ONPUSH',
        '$JS.API.STREAM.CREATE.KV_onpush_resolver_decisions',
        '$JS.API.CONSUMER.DELETE.ONPUSH.parser',
        '$JS.API.ACCOUNT.PURGE.$G',
      ]) {
        expect(mayPublish(id, subject), `${id} → ${subject}`).toBe(false);
      }
    }
  });

  it('lets each consuming stage pull and ack only its own durable consumers', () => {
    for (const spec of Object.values(TOPOLOGY.consumers)) {
      const next = `$JS.API.CONSUMER.MSG.NEXT.${spec.stream}.${spec.durable}`;
      const owners = NATS_IDENTITIES.filter((id) => id !== 'admin' && mayPublish(id, next));
      expect(owners, spec.durable).toEqual([spec.stage]);
    }
  });

  it('gives each identity its own inbox, so none reads the replies of another', () => {
    const inboxes = NATS_IDENTITIES.map(inboxPrefix);
    expect(new Set(inboxes).size).toBe(inboxes.length);
    for (const id of STAGES) {
      expect(NATS_PERMISSIONS[id].subscribe).toContain(`${inboxPrefix(id)}.>`);
      expect(NATS_PERMISSIONS[id].subscribe.some((s) => covers(s, '_INBOX.x.y'))).toBe(false);
    }
  });
});
